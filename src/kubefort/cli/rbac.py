"""`kubefort rbac`: who can do what, what a subject can do, and escalation paths. No analysis
here: `kubefort.kube.rbac` and `kubefort.kube.rbac_paths` do it; this module parses arguments,
loads inputs and prints.

Exit codes: 0 done; 1 `paths` found at least one escalation path; 2 usage error (bad subject,
unknown resource, missing path); 3 some input could not be loaded or some RBAC object is
malformed (the answer may be incomplete; results are still printed).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from kubefort.cli.params import FileError, os_reason
from kubefort.wording import plural

EXIT_OK, EXIT_FOUND, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3

RBAC_HELP_EPILOG = """\b
Exit codes:
  0  done
  1  (paths only) at least one subject can reach cluster-admin
  2  usage error: unknown resource, malformed SUBJECT, missing PATH
  3  some input could not be loaded or an RBAC object is malformed:
     results are printed but may be incomplete
"""


def _common(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.argument("paths", nargs=-1, required=True)(f)
    f = click.option(
        "--exclude", multiple=True, metavar="GLOB", help="Skip files and directories matching GLOB (repeatable)."
    )(f)
    f = click.option("--no-render", is_flag=True, help="Treat Helm chart and Kustomize directories as plain files.")(f)
    f = click.option(
        "--no-bootstrap", is_flag=True, help="Leave out the default roles and bindings every cluster has."
    )(f)
    f = click.option(
        "--kubernetes-version",
        "k8s_version",
        metavar="1.N",
        help="The release whose default roles, bindings and resource table apply (default: a snapshot's "
        "API server version, else the newest kubefort ships).",
    )(f)
    return click.option(
        "-o", "--output", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
    )(f)


class _Unit:
    """One analysis unit's RBAC world: its Policy, and what was wrong with its objects."""

    def __init__(self, name: str | None, resources: list[Any], no_bootstrap: bool, k8s_version: str | None) -> None:
        from kubefort.kube.rbac import Policy

        self.name = name
        try:
            self.policy = Policy(resources, bootstrap=not no_bootstrap, kubernetes_version=k8s_version)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--kubernetes-version") from None
        self.problems = [
            f"{kind}/{ns + '/' if ns else ''}{name} ignored: {why.reason}"
            for (kind, ns, name), why in sorted(self.policy.problems.items(), key=lambda kv: str(kv[0]))
        ]
        # an aggregated ClusterRole's own rules hold or not depending on the controller's history
        self.warnings = [
            f"{r.key} is aggregated and also writes {plural(sum(x.conditional for x in r.rules), 'rule')} of its own "
            "that the aggregation does not give it: the aggregation controller replaces them when it runs; "
            "grants from them are marked 'granted if the rules are kept'"
            for r in self.policy.roles.values()
            if r.selectors is not None and any(x.conditional for x in r.rules)
        ]

    @property
    def version_line(self) -> str:
        from kubefort.kube.rbac.builtin import source_of

        pol = self.policy
        return f"Kubernetes {pol.version} RBAC defaults ({source_of(pol.version)}; {pol.version_reason})"

    def meta(self) -> dict[str, Any]:
        """What the JSON answers share: the release used and the warnings."""
        return {"kubernetesVersion": self.policy.version, "warnings": self.warnings}


class _Loaded:
    """The inputs, split into analysis units as `kubefort scan` splits them (each PATH, each Helm
    chart, each kustomization, each snapshot): RBAC from two units never mixes, so each command
    answers once per unit (docs/architecture.md, "analysis units")."""

    def __init__(
        self,
        paths: tuple[str, ...],
        exclude: tuple[str, ...],
        no_render: bool,
        no_bootstrap: bool,
        k8s_version: str | None = None,
    ) -> None:
        from kubefort.loaders.manifests import UsageError, load_resources

        snapshots = [p for p in paths if _is_snapshot(p)]
        try:
            resources, problems, records = load_resources(
                [p for p in paths if p not in snapshots], exclude, render_dirs=not no_render
            )
        except UsageError as exc:  # a PATH that does not exist
            raise FileError(str(exc)) from None
        by_unit: dict[str | None, list[Any]] = {}
        for r in resources:
            by_unit.setdefault(r.source.unit, []).append(r)
        for snap in snapshots:
            by_unit[snap] = _snapshot_resources(snap)
        if not by_unit:
            by_unit[None] = []  # nothing read: the built-in defaults alone still answer
        self.units = [_Unit(name, res, no_bootstrap, k8s_version) for name, res in by_unit.items()]
        self.problems = [f"{p.file}{':' + str(p.line) if p.line else ''}: {p.message}" for p in problems]
        if paths and not snapshots:  # PATHs given that held no object: the answer is the defaults' alone
            from kubefort.verdict import nothing_found

            nothing = nothing_found(paths, records, len(resources), excluded=bool(exclude))
            if nothing is not None:
                self.problems.append(nothing.replace("nothing was evaluated", "only the built-in defaults answer"))
        for u in self.units:
            self.problems += [self.label(u, p) for p in u.problems]

    @property
    def single(self) -> bool:
        return len(self.units) == 1

    def label(self, unit: _Unit, text: str) -> str:
        """text, prefixed with the unit when there are several."""
        return text if self.single or unit.name is None else f"{_unit_name(unit.name)}: {text}"

    def head(self, unit: _Unit) -> None:
        """The unit (when there are several), the release used and the warnings, on stderr/stdout (table output)."""
        if not self.single:
            click.echo(f"== {_unit_name(unit.name)} ==")
        click.echo(f"kubefort: {unit.version_line}", err=True)
        for w in unit.warnings:
            click.echo(f"kubefort: warning: {w}", err=True)

    def dump(self, answers: list[dict[str, Any]]) -> None:
        """The JSON answer: one unit's answer as it always was; several under `units`."""
        if self.single:
            _dump({**answers[0], "problems": self.problems})
        else:
            _dump(
                {
                    "units": [{"unit": u.name, **a} for u, a in zip(self.units, answers, strict=True)],
                    "problems": self.problems,
                }
            )

    def finish(self, code: int = EXIT_OK) -> None:
        if self.problems:
            click.echo(
                f"kubefort: {plural(len(self.problems), 'input problem')}; the answer may be incomplete:", err=True
            )
            for p in self.problems:
                click.echo(f"  {p}", err=True)
            code = EXIT_INCOMPLETE
        sys.exit(code)


def _unit_name(name: str | None) -> str:
    return "stdin" if name == "-" else (name or "input")


# public name: `kubefort audit rbac unused --rbac PATH` loads its RBAC inputs the same way
LoadedRbac = _Loaded


def _is_snapshot(path: str) -> bool:
    import os

    if path == "-" or not os.path.isfile(path):
        return False
    from kubefort.cluster.source import is_snapshot

    return is_snapshot(path)


def _snapshot_resources(path: str) -> list[Any]:
    """Every object of a cluster snapshot, and its ClusterInfo (the API server's version)."""
    import orjson

    from kubefort.cluster.source import SnapshotError, SnapshotSource
    from kubefort.model import Resource, ResourceId, Source

    try:
        src = SnapshotSource(path)
        out = [Resource(ResourceId("kubefort.io/v1alpha1", "ClusterInfo", None, src.name), src.info, Source(path))]
        for page in src.pages():
            for i, obj in enumerate(orjson.loads(page.data).get("items") or ()):
                meta = obj.get("metadata") if isinstance(obj, dict) else None
                if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
                    continue
                ns = meta.get("namespace") if page.rtype.namespaced else None
                rid = ResourceId(str(obj.get("apiVersion")), str(obj.get("kind")), ns, meta["name"])
                out.append(Resource(rid, obj, Source(path, page.number, None, ("items", i))))
    except (SnapshotError, OSError, ValueError) as exc:
        why = os_reason(exc) if isinstance(exc, OSError) else str(exc).removeprefix(f"{path}: ")
        raise FileError(f"cannot read snapshot {path}: {why}") from None
    return out


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def _table(rows: Sequence[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for r in [header, *rows]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return "\n".join(lines)


@click.group("rbac", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def rbac() -> None:
    """Analyse RBAC exactly as the API server's authorizer does.

    \b
    kubefort rbac who-can get secrets -n shop k8s/      which subjects can, and through what
    kubefort rbac permissions ServiceAccount:shop:api k8s/    every rule a subject holds
    kubefort rbac paths k8s/                             shortest escalation paths to cluster-admin

    Inputs are read as `kubefort scan` reads them. The default roles and bindings of a fresh
    cluster (cluster-admin, admin, edit, view, system:* ...) are included unless --no-bootstrap;
    an input object of the same name replaces the built-in one. Each analysis unit (each PATH,
    Helm chart, kustomization or snapshot) is its own RBAC world and is answered apart.
    """


@rbac.command("who-can", epilog=RBAC_HELP_EPILOG)
@click.argument("verb")
@click.argument("resource")
@_common
@click.option("-n", "--namespace", help="The namespace of the request (RoleBindings of this namespace count).")
@click.option(
    "-A",
    "--all-namespaces",
    is_flag=True,
    help="A request across all namespaces at once: only ClusterRoleBindings count.",
)
@click.option("--name", default="", help="The object's name (rules with resourceNames match only named requests).")
def who_can(
    verb: str,
    resource: str,
    paths: tuple[str, ...],
    exclude: tuple[str, ...],
    no_render: bool,
    no_bootstrap: bool,
    k8s_version: str | None,
    fmt: str,
    namespace: str | None,
    all_namespaces: bool,
    name: str,
) -> None:
    """Which subjects can VERB RESOURCE[/SUBRESOURCE] (or a non-resource URL such as /metrics).

    RESOURCE is what kubectl accepts: pods, po, deployments.apps, deploy, pods/exec,
    deployments.apps/scale, widgets.example.com (CRDs in the input resolve by name too).

    \b
    -n NS         the request in namespace NS (ClusterRoleBindings + RoleBindings of NS)
    -A            the request across all namespaces (ClusterRoleBindings only)
    (neither)     in at least one namespace: every binding counts, each names its scope
    Cluster-scoped resources (nodes, clusterroles ...) ignore the namespace.
    """
    if namespace and all_namespaces:
        raise click.UsageError("-n and -A exclude each other")
    loaded = _Loaded(paths, exclude, no_render, no_bootstrap, k8s_version)
    answers = [
        _who_can(loaded, u, verb, resource, namespace, all_namespaces, name, no_bootstrap, fmt) for u in loaded.units
    ]
    if fmt == "json":
        loaded.dump(answers)
    loaded.finish()


def _who_can(
    loaded: _Loaded,
    unit: _Unit,
    verb: str,
    resource: str,
    namespace: str | None,
    all_namespaces: bool,
    name: str,
    no_bootstrap: bool,
    fmt: str,
) -> dict[str, Any]:
    """One unit's answer: the JSON object (returned), or the table (printed)."""
    from kubefort.kube.rbac import Request, resolve_resource

    pol = unit.policy
    any_ns = False
    unknown_scope = False
    spec: Any = None
    if resource.startswith("/"):
        req = Request(verb, path=resource)
        where = ""
    else:
        try:
            spec = resolve_resource(resource, pol.crds, pol.version)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        ns = namespace or ""
        unknown_scope = spec.namespaced is None and spec.resource != "*"
        if spec.resource == "namespaces" and spec.group == "" and name:
            ns = name  # the API server puts a namespace's own name in the request's namespace
        elif spec.namespaced is False:
            ns = ""
        elif not namespace and not all_namespaces:
            any_ns = True
        req = Request(verb, spec.group, spec.resource, spec.subresource, ns, name)
        where = (
            "in any namespace"
            if any_ns
            else (
                f"in namespace {ns!r}"
                if ns
                else ("cluster-wide" if spec.namespaced is False else "across all namespaces")
            )
        )
    found = pol.who_can(req, any_namespace=any_ns)
    # a RoleBinding grants a resource only if it is namespaced: for a resource of unknown scope
    # that is not evaluated, never guessed
    scope_note = (
        f"{resource} is neither a built-in resource of Kubernetes {pol.version} nor a CRD in the input: "
        "its scope is unknown, so grants through RoleBindings are not evaluated (they hold only if it is namespaced)"
        if unknown_scope
        else ""
    )

    def certain(g: Any) -> bool:
        return not (unknown_scope and g.binding.namespace is not None)

    if fmt == "json":
        return {
            "request": {
                "verb": req.verb,
                "group": req.group,
                "resource": req.resource,
                "subresource": req.subresource,
                "namespace": req.namespace if not any_ns else None,
                "anyNamespace": any_ns,
                "name": req.name,
                "nonResourceURL": req.path,
                "bootstrap": not no_bootstrap,
                "scope": None if req.path is not None else _scope_name(spec.namespaced),
            },
            **unit.meta(),
            "subjects": [
                dict(
                    s.as_dict(),
                    via=[g.as_dict() for g in grants if certain(g)],
                    notEvaluated=[g.as_dict() for g in grants if not certain(g)],
                )
                for s, grants in found.items()
            ],
            "notes": [scope_note] if scope_note else [],
        }
    loaded.head(unit)
    what = req.path if req.path is not None else str(spec)
    title = f"who can {verb} {what}" + (f" named {name!r}" if name else "") + (f" {where}" if where else "")
    if not found:
        click.echo(f"{title}: nobody")
    else:
        click.echo(f"{title}: {plural(len(found), 'subject')}")
        rows: list[tuple[str, ...]] = [
            (str(s) if i == 0 else "", g.describe() + ("" if certain(g) else " (not evaluated: scope unknown)"))
            for s, grants in found.items()
            for i, g in enumerate(grants)
        ]
        click.echo(_table(rows, ("SUBJECT", "VIA (binding -> role: rule)")))
    if scope_note:
        click.echo(f"note: {scope_note}")
    return {}


def _scope_name(namespaced: bool | None) -> str:
    return {True: "Namespaced", False: "Cluster", None: "unknown"}[namespaced]


@rbac.command("permissions", epilog=RBAC_HELP_EPILOG)
@click.argument("subject")
@_common
@click.option("-n", "--namespace", help="Only the rules effective in this namespace (cluster-wide ones included).")
@click.option(
    "--group",
    "groups",
    multiple=True,
    metavar="GROUP",
    help="Add a group to the subject (as kubectl --as-group). Repeatable.",
)
def permissions(
    subject: str,
    paths: tuple[str, ...],
    exclude: tuple[str, ...],
    no_render: bool,
    no_bootstrap: bool,
    k8s_version: str | None,
    fmt: str,
    namespace: str | None,
    groups: tuple[str, ...],
) -> None:
    """Every rule SUBJECT holds, per namespace, with the binding and role that grant it.

    \b
    SUBJECT:
      User:NAME                    a user (in system:authenticated; system:anonymous is not)
      Group:NAME                   a member of that group (and of system:authenticated)
      ServiceAccount:NS:NAME       also sa:NS:NAME or system:serviceaccount:NS:NAME; in the groups
                                   system:serviceaccounts, system:serviceaccounts:NS, system:authenticated
    """
    from kubefort.kube.rbac import identity_of, parse_subject
    from kubefort.kube.rbac.model import CONDITIONAL_NOTE

    try:
        subj = parse_subject(subject)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    loaded = _Loaded(paths, exclude, no_render, no_bootstrap, k8s_version)
    ident = identity_of(subj, groups)
    answers = []
    for unit in loaded.units:
        by_scope: dict[str | None, list[Any]] = {}
        for g in unit.policy.grants_for(ident, namespace):
            by_scope.setdefault(g.namespace, []).append(g)
        scopes = sorted(by_scope, key=lambda s: (s is not None, s or ""))
        if fmt == "json":
            answers.append(
                {
                    "subject": subj.as_dict(),
                    "user": ident.user,
                    "groups": sorted(ident.groups),
                    "bootstrap": not no_bootstrap,
                    **unit.meta(),
                    "scopes": [{"namespace": s, "rules": [g.as_dict() for g in by_scope[s]]} for s in scopes],
                }
            )
            continue
        loaded.head(unit)
        click.echo(f"{subj} (user {ident.user or '-'}, groups {', '.join(sorted(ident.groups))})")
        if not scopes:
            click.echo("no permissions")
        rows: list[tuple[str, ...]] = []
        for s in scopes:
            label = "cluster-wide" if s is None else f"namespace {s}"
            for i, g in enumerate(by_scope[s]):
                rows.append(
                    (
                        label if i == 0 else "",
                        g.rule.text() + (CONDITIONAL_NOTE if g.rule.conditional else ""),
                        f"{g.binding.key} -> {g.role.key}"
                        + ("" if g.rule.origin == g.role.key else f" (from {g.rule.where()})"),
                    )
                )
        if rows:
            click.echo(_table(rows, ("SCOPE", "RULE", "VIA")))
    if fmt == "json":
        loaded.dump(answers)
    loaded.finish()


@rbac.command("paths", epilog=RBAC_HELP_EPILOG)
@_common
@click.option(
    "--subject",
    "subjects",
    multiple=True,
    metavar="SUBJECT",
    help="Only these start subjects (as for `permissions`). Repeatable.",
)
@click.option(
    "--include-system",
    is_flag=True,
    help="Also start from control-plane identities (system: users and groups) bound in the input.",
)
def paths_cmd(
    paths: tuple[str, ...],
    exclude: tuple[str, ...],
    no_render: bool,
    no_bootstrap: bool,
    k8s_version: str | None,
    fmt: str,
    subjects: tuple[str, ...],
    include_system: bool,
) -> None:
    """Shortest privilege-escalation path to cluster-admin of every subject bound in the input.

    Each hop names the action, its MITRE ATT&CK technique and the binding, role and rule that
    allow it: creating a pod as another ServiceAccount, exec into pods with mounted tokens,
    nodes/proxy, minting or reading tokens, impersonation, bind/escalate, hostPath
    PersistentVolumes, CSR approval. Subjects that already are cluster-admin are not listed.
    Exits 1 when a path exists.
    """
    from kubefort.kube.rbac import parse_subject
    from kubefort.kube.rbac_paths import TECHNIQUES, find_paths

    try:
        starts = [parse_subject(s) for s in subjects] if subjects else None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    loaded = _Loaded(paths, exclude, no_render, no_bootstrap, k8s_version)
    answers = []
    total = 0
    for unit in loaded.units:
        found = find_paths(unit.policy, starts, include_system)
        total += len(found)
        if fmt == "json":
            answers.append({"bootstrap": not no_bootstrap, **unit.meta(), "paths": [p.as_dict() for p in found]})
            continue
        loaded.head(unit)
        if not found:
            click.echo("no subject can reach cluster-admin")
            continue
        for p in found:
            click.echo(f"{p.subject} -> cluster-admin in {plural(len(p.hops), 'hop')}")
            for i, h in enumerate(p.hops, 1):
                click.echo(f"  {i}. {h.src} => {h.dst}")
                click.echo(f"     {h.action}  [{h.technique} {TECHNIQUES.get(h.technique, '')}]")
                for g in h.via:
                    click.echo(f"     via {g.describe()}")
        click.echo(f"{plural(len(found), 'subject')} can reach cluster-admin")
    if fmt == "json":
        loaded.dump(answers)
    loaded.finish(EXIT_FOUND if total else EXIT_OK)
