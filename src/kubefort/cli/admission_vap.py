"""`kubefort admission vap`: ValidatingAdmissionPolicies for the checks CEL expresses exactly.

Argument parsing and output only: the policies are built in kubefort.admission.vap, the coverage
decisions live in kubefort.admission.vap_coverage. Nothing here reads a cluster.
"""

from __future__ import annotations

import json
from typing import Any

import click

from kubefort.cli.common import builtin_registry, load_command_config, split_ids
from kubefort.cli.params import InputFile, check_suggestion, complete_check_ids

LIST_HEADER = (
    "Covered checks give the same verdict as kubefort on every object the API server admits (within CEL's "
    "cost limits); the others are not generated, for the reason shown."
)


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--namespace-label")
        out[key.strip()] = value.strip()
    return out


def _list_text(rows: list[Any]) -> str:
    width = max(len(r.check_id) for r in rows)
    name_width = max(len(r.name) for r in rows)
    lines = [LIST_HEADER, ""]
    for r in rows:
        state = "covered" if r.covered else "not covered"
        why = f": {r.reason}" if r.reason else ""
        lines.append(f"{r.check_id:<{width}}  {r.name:<{name_width}}  {state}{why}")
    covered = sum(r.covered for r in rows)
    lines += ["", f"{covered} of {len(rows)} per-object checks covered"]
    return "\n".join(lines) + "\n"


def _list_json(rows: list[Any]) -> str:
    return json.dumps(
        [{"id": r.check_id, "name": r.name, "covered": r.covered, "reason": r.reason} for r in rows], indent=2
    )


@click.command("vap")
@click.option(
    "--checks",
    "select",
    multiple=True,
    metavar="IDS",
    shell_complete=complete_check_ids,
    help="Only these checks (IDs, names or prefixes; comma-separated or repeated). Default: every covered check.",
)
@click.option(
    "--skip-checks",
    "skip",
    multiple=True,
    metavar="IDS",
    shell_complete=complete_check_ids,
    help="Leave these checks out.",
)
@click.option(
    "--config",
    "config_path",
    type=InputFile("config"),
    help="`.kubefort.yaml` whose select/ignore choose the checks (default: the nearest one from the current directory up).",
)
@click.option("--no-config", is_flag=True, help="Use no `.kubefort.yaml`.")
@click.option(
    "--action",
    "actions",
    multiple=True,
    type=click.Choice(["Deny", "Warn", "Audit"]),
    help="The bindings' validationActions (repeatable; Warn or Audit to roll out first). Default: Deny.",
)
@click.option(
    "--failure-policy",
    type=click.Choice(["Fail", "Ignore"]),
    default="Fail",
    show_default=True,
    help="What a policy that cannot be evaluated does (a CEL cost limit exceeded): Fail denies, Ignore admits.",
)
@click.option(
    "--namespace-label",
    "namespace_labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Bind only in namespaces with this label (repeatable: all of them).",
)
@click.option(
    "--exclude-namespace",
    multiple=True,
    metavar="NS",
    help="More namespaces the bindings leave out (kube-system always is).",
)
@click.option(
    "--binding-suffix",
    default="",
    metavar="SUFFIX",
    help="Name the bindings kubefort-<check>-SUFFIX: a second set of bindings of the same policies (another action, other namespaces).",
)
@click.option("--list", "list_only", is_flag=True, help="List every per-object check: covered or not, and why.")
@click.option("-o", "--output", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def vap(
    select: tuple[str, ...],
    skip: tuple[str, ...],
    config_path: str | None,
    no_config: bool,
    actions: tuple[str, ...],
    failure_policy: str,
    namespace_labels: tuple[str, ...],
    exclude_namespace: tuple[str, ...],
    binding_suffix: str,
    list_only: bool,
    fmt: str,
) -> None:
    """Generate ValidatingAdmissionPolicies (CEL) for the checks CEL can express exactly.

    One ValidatingAdmissionPolicy and one ValidatingAdmissionPolicyBinding per check
    (admissionregistration.k8s.io/v1, Kubernetes 1.30 or later), for `kubectl apply -f -`: the
    API server itself then enforces the checks, with no webhook. The policies match Pods and
    every built-in kind with a pod template; their bindings leave kube-system out. --list shows
    which checks are covered and why the others are not; docs/admission.md compares the
    policies with the webhook.
    """
    from kubefort.admission import vap as gen
    from kubefort.admission.vap_coverage import coverage
    from kubefort.engine.selection import SelectionError, select_checks

    reg = builtin_registry()
    if list_only:
        rows = coverage(reg)
        if fmt == "json":
            click.echo(_list_json(rows))
        else:
            click.echo(_list_text(rows), nl=False)
        return
    config = load_command_config(config_path, no_config, reg)
    try:
        ids = select_checks(reg, split_ids(select), split_ids(skip), config=config)
    except SelectionError as exc:
        raise click.UsageError(check_suggestion(reg, [*split_ids(select), *split_ids(skip)]) or str(exc)) from None
    # the KF-INPUT checks every selection carries are not policies (the API server refuses what they report)
    per_object = {r.check_id for r in coverage(reg) if not r.check_id.startswith("KF-INPUT-")}
    covered, missing = gen.covered_ids(i for i in ids if i in per_object)
    if not covered:
        raise click.UsageError(
            "none of the selected checks can be expressed exactly as a ValidatingAdmissionPolicy "
            "(see `kubefort admission vap --list`)"
        )
    if missing and (select or (config is not None and config.select)):
        click.echo(f"kubefort: not generated (see --list): {', '.join(missing)}", err=True)
    options = gen.VapOptions(
        actions=actions or ("Deny",),
        failure_policy=failure_policy,
        exclude_namespaces=("kube-system", *exclude_namespace),
        namespace_labels=_labels(namespace_labels),
        binding_suffix=binding_suffix.strip(),
    )
    try:
        docs = gen.generate(covered, reg, options)
    except gen.VapError as exc:
        raise click.UsageError(str(exc)) from None
    if fmt == "json":
        click.echo(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}, indent=2))
    else:
        import yaml

        click.echo(yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, width=100), nl=False)
