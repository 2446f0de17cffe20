"""`kubefort audit rbac`: least privilege from usage. `generate` prints the RBAC that grants
exactly what one principal was allowed in audit logs; `unused` compares what each RBAC subject
is granted with what it used. No analysis here: kubefort.audit.rbac_usage, rbac_generate and
rbac_unused do it; this module parses arguments, reads the inputs and prints.

Exit codes: 0 done; 2 usage error (no principal, a PATH that does not exist, an unknown
Kubernetes version); 3 some input could not be read (a log line that holds no readable event, an
RBAC object that does not parse, a list the cluster refused): the answer is printed but may be
incomplete (--allow-incomplete: 0).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click

from kubefort.cli.params import FileError, InputFile, OutputFile, os_reason, read_problem
from kubefort.wording import plural

EXIT_OK, EXIT_USAGE, EXIT_INCOMPLETE = 0, 2, 3
SHOWN_PROBLEMS = 20  # input problems listed on stderr; the rest are counted

HELP_EPILOG = """\b
Exit codes:
  0  done
  2  usage error: no principal, a PATH that does not exist
  3  some input could not be read: the answer is printed but may be
     incomplete (--allow-incomplete: exit 0)
"""


def _check_paths(paths: Iterable[str]) -> None:
    """A log PATH that cannot be read is a one-line error before anything is read."""
    for p in paths:
        if p == "-":
            continue
        problem = read_problem(p, directory=os.path.isdir(p))
        if problem is not None:
            raise FileError(f"cannot read audit log {p}: {problem}")


def _events(paths: tuple[str, ...], problems: list[str]) -> Iterator[Any]:
    """The events of the logs; each input problem appended to `problems` as `file:line: message`.
    Events out of time order do not matter here (the analysis does not depend on order)."""
    from kubefort.audit.read import AuditProblem, iter_events

    try:
        for item in iter_events(paths):
            if isinstance(item, AuditProblem):
                if item.kind != "order":
                    problems.append(f"{item.file}:{item.line}: {item.message}" if item.line else item.message)
            else:
                yield item
    except OSError as exc:  # checked before reading, but a file may vanish since
        raise FileError(f"cannot read audit log {exc.filename or ''}: {os_reason(exc)}") from None


def _finish(problems: list[str], allow_incomplete: bool, what: str) -> None:
    if not problems:
        sys.exit(EXIT_OK)
    click.echo(f"kubefort: {plural(len(problems), 'input problem')}; {what} may be incomplete:", err=True)
    for p in problems[:SHOWN_PROBLEMS]:
        click.echo(f"  {p}", err=True)
    if len(problems) > SHOWN_PROBLEMS:
        click.echo(f"  ... and {len(problems) - SHOWN_PROBLEMS} more", err=True)
    sys.exit(EXIT_OK if allow_incomplete else EXIT_INCOMPLETE)


def _version(text: str | None) -> str:
    from kubefort.kube.rbac.builtin import check_version, latest

    if not text:
        return latest()
    try:
        return check_version(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--kubernetes-version") from None


def _version_option(f: Any) -> Any:
    return click.option(
        "--kubernetes-version",
        "k8s_version",
        metavar="1.N",
        help="The release whose default roles and built-in resource table apply (default: the newest kubefort "
        "ships; for `unused`, a cluster's or snapshot's own version first).",
    )(f)


def _allow_incomplete_option(f: Any) -> Any:
    return click.option(
        "--allow-incomplete", is_flag=True, help="Exit 0 even when some input could not be read (default: 3)."
    )(f)


@click.group("rbac", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def rbac() -> None:
    """Least privilege from usage: RBAC from what principals did, and grants nobody used.

    \b
    kubefort audit rbac generate --user alice audit.log      RBAC granting exactly what alice used
    kubefort audit rbac generate --serviceaccount shop:api logs/
    kubefort audit rbac unused audit.log --rbac k8s/           grants nobody used, per subject
    kubefort audit rbac unused audit.log --cluster             ... of the current kubeconfig's cluster

    Each request counts once (its auditID), and only if the authorizer allowed it.
    """


# ------------------------------------------------------------------------------------------------
# generate
# ------------------------------------------------------------------------------------------------
@rbac.command("generate", epilog=HELP_EPILOG)
@click.argument("paths", nargs=-1, required=True)
@click.option("--user", metavar="NAME", help="The principal is this user (system:serviceaccount:NS:NAME too).")
@click.option("--serviceaccount", metavar="NS:NAME", help="The principal is this ServiceAccount.")
@click.option("--group", metavar="NAME", help="The principal is this group: the requests of all its members.")
@_version_option
@click.option(
    "--include-defaults",
    is_flag=True,
    help="Also grant what the release's default roles already allow every principal of its kind "
    "(discovery, /healthz, selfsubjectaccessreviews ...).",
)
@click.option(
    "--max-resource-names",
    type=click.IntRange(0, 10_000),
    default=10,
    show_default=True,
    help="A verb used on more objects of a resource than this is granted on every name (0: never by name).",
)
@click.option("--out", "out_file", type=OutputFile("RBAC file"), help="Write the YAML to FILE instead of stdout.")
@_allow_incomplete_option
def generate(
    paths: tuple[str, ...],
    user: str | None,
    serviceaccount: str | None,
    group: str | None,
    k8s_version: str | None,
    include_defaults: bool,
    max_resource_names: int,
    out_file: str | None,
    allow_incomplete: bool,
) -> None:
    """Print Roles, ClusterRoles and their bindings granting exactly what one principal was
    allowed to do in the audit logs PATH... (files, directories, '-' for stdin), audit2rbac's job.

    \b
    Per namespace a Role (the namespaced resources used there) and its RoleBinding; one
    ClusterRole and ClusterRoleBinding for cluster-scoped resources, namespaced ones used
    across all namespaces and non-resource URLs. Rules are exact: each combination of verb,
    resource and name they hold was used; resourceNames when every such request named its
    object; never '*'. Only allowed requests count; an impersonated request counts for the
    impersonated user, and the impersonator gets the 'impersonate' rules it used.
    Objects are named kubefort:audit:<principal>.
    """
    from kubefort.audit.rbac_generate import collect, render
    from kubefort.audit.rbac_usage import principal

    _check_paths(paths)
    try:
        subject = principal(user, serviceaccount, group)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    version = _version(k8s_version)
    problems: list[str] = []
    usage = collect(
        _events(paths, problems),
        subject,
        version,
        include_defaults=include_defaults,
        max_names=max_resource_names,
    )
    problems += usage.problems
    text = render(usage)
    if out_file:
        from kubefort.fileio import write_atomically

        try:
            write_atomically(out_file, text)
        except OSError as exc:  # checked before the analysis, but the directory may have gone since
            raise FileError(f"cannot write RBAC file {out_file}: {os_reason(exc)}") from None
    else:
        click.echo(text, nl=False)
    if not usage.requests:
        click.echo(f"kubefort: no allowed request of {subject} in the logs: nothing to grant", err=True)
    _finish(problems, allow_incomplete, "the RBAC")


# ------------------------------------------------------------------------------------------------
# unused
# ------------------------------------------------------------------------------------------------
CRD_GROUP = "apiextensions.k8s.io"
RBAC_TYPES = (
    ("clusterroles", "ClusterRole", False),
    ("clusterrolebindings", "ClusterRoleBinding", False),
    ("roles", "Role", True),
    ("rolebindings", "RoleBinding", True),
)


def _cluster_resources(kubeconfig: str | None, context: str | None) -> tuple[list[Any], list[str]]:
    """The cluster's Roles, ClusterRoles, bindings and CustomResourceDefinitions (listed as `kubefort scan --cluster` lists
    objects) and its version (a ClusterInfo); problems for lists it refused."""
    from kubefort.cluster.client import Cluster, ClusterError
    from kubefort.cluster.collect import Collector, normalize
    from kubefort.cluster.discovery import Discovery, ResourceType
    from kubefort.cluster.source import cluster_info
    from kubefort.kube.rbac.model import RBAC_GROUP
    from kubefort.model import Resource, ResourceId, Source

    try:
        cluster = Cluster(kubeconfig, context)
    except ClusterError as exc:
        raise FileError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - kubernetes' kubeconfig loader raises YAML, key and type errors on a malformed file
        where = f" from {kubeconfig}" if kubeconfig else ""
        raise FileError(f"cannot load cluster credentials{where}: {exc}") from None
    try:
        v = cluster.get("/version")
        info = cluster_info(cluster.name, cluster.server, v.json() if v.status == 200 else None, None)
        types = [ResourceType(RBAC_GROUP, "v1", res, kind, ns, ("list",)) for res, kind, ns in RBAC_TYPES]
        # the CRDs: the resources a wildcard rule also grants (unused's granted pairs)
        types.append(
            ResourceType(CRD_GROUP, "v1", "customresourcedefinitions", "CustomResourceDefinition", False, ("list",))
        )
        collector = Collector(cluster, Discovery(types, "static"), skip=())
        lists: dict[tuple[int, str | None], tuple[int, list[Any]]] = {}
        for page in collector.pages():
            key = (page.list_index, page.namespace)
            attempt, items = lists.get(key, (-1, []))
            if page.attempt > attempt:  # a restarted list (410 Gone) supersedes its earlier pages
                attempt, items = page.attempt, []
            items += normalize(page)
            lists[key] = (attempt, items)
    except ClusterError as exc:
        raise FileError(str(exc)) from None
    finally:
        cluster.close()
    src = Source(cluster.server)
    out = [Resource(ResourceId("kubefort.io/v1alpha1", "ClusterInfo", None, cluster.name), info, src)]
    for _attempt, items in lists.values():
        for obj in items:
            meta = obj.get("metadata") if isinstance(obj, dict) else None
            if isinstance(meta, dict) and isinstance(meta.get("name"), str):
                rid = ResourceId(str(obj.get("apiVersion")), str(obj.get("kind")), meta.get("namespace"), meta["name"])
                out.append(Resource(rid, obj, src))
    problems = [
        f"{st.rtype.kind} list{' in ' + st.namespace if st.namespace else ''} {st.status}: {st.message}"
        for st in collector.statuses
        if st.status != "ok" and not st.covered_by
    ]
    return out, problems


def _policy(
    rbac_inputs: tuple[str, ...],
    use_cluster: bool,
    kubeconfig: str | None,
    context: str | None,
    k8s_version: str | None,
) -> tuple[Any, list[str]]:
    """The RBAC policy of manifests/snapshots (as `kubefort rbac` reads them) or of a live
    cluster, and the input problems."""
    if not use_cluster:
        from kubefort.cli.rbac import LoadedRbac

        loaded = LoadedRbac(rbac_inputs, (), False, False, k8s_version)
        if not loaded.single:  # RBAC objects of several analysis units never mix (docs/architecture.md)
            names = ", ".join(u.name or "input" for u in loaded.units)
            raise click.UsageError(
                f"unused compares one log with one cluster's RBAC, and --rbac PATHs hold {len(loaded.units)} "
                f"analysis units ({names}): give one PATH, Helm chart, kustomization or snapshot"
            )
        unit = loaded.units[0]
        for w in unit.warnings:
            click.echo(f"kubefort: warning: {w}", err=True)
        return unit.policy, list(loaded.problems)
    from kubefort.kube.rbac import Policy

    resources, problems = _cluster_resources(kubeconfig, context)
    try:
        pol = Policy(resources, kubernetes_version=k8s_version)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--kubernetes-version") from None
    for (kind, ns, name), why in sorted(pol.problems.items(), key=lambda kv: str(kv[0])):
        problems.append(f"{kind}/{ns + '/' if ns else ''}{name} ignored: {why.reason}")
    return pol, problems


@rbac.command("unused", epilog=HELP_EPILOG)
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--rbac",
    "rbac_inputs",
    multiple=True,
    metavar="PATH",
    help="Manifests (files, directories, Helm charts, kustomizations) or a cluster snapshot holding the "
    "RBAC objects, read as `kubefort rbac` reads them (repeatable).",
)
@click.option("--cluster", "use_cluster", is_flag=True, help="Read the RBAC objects of the kubeconfig's cluster.")
@click.option("--kubeconfig", type=InputFile("kubeconfig"), help="With --cluster: the kubeconfig file.")
@click.option("--context", "kube_context", help="With --cluster: the kubeconfig context.")
@click.option(
    "--subject",
    "subjects",
    multiple=True,
    metavar="SUBJECT",
    help="Only this subject: User:NAME, Group:NAME, ServiceAccount:NS:NAME (repeatable).",
)
@_version_option
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_allow_incomplete_option
def unused(
    paths: tuple[str, ...],
    rbac_inputs: tuple[str, ...],
    use_cluster: bool,
    kubeconfig: str | None,
    kube_context: str | None,
    subjects: tuple[str, ...],
    k8s_version: str | None,
    fmt: str,
    allow_incomplete: bool,
) -> None:
    """What each RBAC subject is granted versus what it used in the audit logs PATH...: unused
    rules, unused bindings, wildcard grants with what was used of them, and a least-privilege
    ratio (used (verb, resource) pairs / granted pairs, wildcards expanded over the release's
    built-in resources and the input's CustomResourceDefinitions; 1.0: every granted pair was
    used).

    The RBAC objects come from --rbac PATHs or from --cluster. The default subjects of the
    release's default bindings (system:authenticated on system:discovery ...) are left out.
    """
    from kubefort.audit.rbac_unused import UnusedAnalysis, resource_scopes, subject_dict, table_lines
    from kubefort.kube.rbac import parse_subject
    from kubefort.kube.rbac.builtin import source_of

    _check_paths(paths)
    if bool(rbac_inputs) == use_cluster:
        raise click.UsageError("give the RBAC objects with --rbac PATH or --cluster (one of them)")
    if not use_cluster and (kubeconfig or kube_context):
        raise click.UsageError("--kubeconfig and --context need --cluster")
    try:
        only = [parse_subject(s) for s in subjects] if subjects else None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    pol, problems = _policy(rbac_inputs, use_cluster, kubeconfig, kube_context, k8s_version)
    analysis = UnusedAnalysis(pol, only)
    for ev in _events(paths, problems):
        analysis.feed(ev)
    found = analysis.finish()
    problems += analysis.problems
    scopes = resource_scopes(pol)
    version_line = f"Kubernetes {pol.version} RBAC defaults ({source_of(pol.version)}; {pol.version_reason})"
    if fmt == "json":
        doc = {
            "kubernetesVersion": pol.version,
            "window": {"from": analysis.first or None, "to": analysis.last or None},
            "events": analysis.events,
            "requests": analysis.requests,
            "refused": analysis.refused,
            "unexplained": analysis.unexplained,
            "subjects": [subject_dict(s, scopes) for s in found],
            "problems": problems,
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(f"kubefort: {version_line}", err=True)
        window = f"{analysis.first} .. {analysis.last}" if analysis.first else "no timestamps"
        click.echo(
            f"audit window {window}: {plural(analysis.requests, 'allowed request')}, "
            f"{analysis.refused} refused, {analysis.unexplained} allowed by nothing in the RBAC given"
        )
        if not found:
            click.echo("no subject is bound in the RBAC given")
        for line in table_lines(found, scopes):
            click.echo(line)
    _finish(problems, allow_incomplete, "the answer")
