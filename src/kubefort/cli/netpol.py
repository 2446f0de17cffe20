"""`kubefort netpol`: NetworkPolicy connectivity from manifests (matrix, explain, diff, generate, observe).

Endpoints are named `ns/kind/name` (always unique), `ns/name` (when one kind has that name),
an external peer's name (`internet` 0.0.0.0/0, `cloud-metadata` 169.254.169.254/32, or one
given with `--external NAME=CIDR`) or a CIDR. Objects without a namespace are in `default`.
Exit codes: 0 done; 1 `diff --exit-code` found differences; 2 usage error; 3 some input or
policy could not be read (the result is printed, computed without it). Reading the inputs into
the model is `kubefort.kube.netpol_inputs`; the analysis is `kubefort.kube.netpol`.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from kubefort.cli.common import FormatChoice
from kubefort.cli.netpol_render import render_matrix
from kubefort.cli.params import FileError, InputFile, OutputDir, OutputFile, os_reason
from kubefort.kube.netpol import (
    ALL_PORTS,
    NO_PORTS,
    Analysis,
    Cluster,
    External,
    diff,
    explain_side,
    format_ports,
    parse_port,
    ports_contain,
    ports_inter,
    ports_json,
)
from kubefort.kube.netpol_generate import (
    GenerateError,
    as_calico,
    as_cilium,
    generate_policies,
    host_network_warnings,
    intent_mismatches,
    parse_allow,
    unlabelled_warnings,
)
from kubefort.wording import plural

if TYPE_CHECKING:
    from collections.abc import Callable

    from click.decorators import FC

    from kubefort.kube.netpol.observe import Group

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


def _input_options(f: Any) -> Any:
    for opt in reversed(
        [
            click.option(
                "--external",
                "externals",
                multiple=True,
                metavar="NAME=CIDR",
                help="An external peer to analyse besides internet and cloud-metadata (repeatable).",
            ),
            click.option(
                "--exclude",
                multiple=True,
                metavar="GLOB",
                help="Skip files and directories matching GLOB (repeatable).",
            ),
            click.option(
                "-f",
                "--values",
                "helm_values",
                multiple=True,
                type=InputFile("values file"),
                help="Helm values file for charts (repeatable).",
            ),
            click.option(
                "--set", "helm_set", multiple=True, metavar="KEY=VAL", help="Helm --set value for charts (repeatable)."
            ),
            click.option("-n", "--namespace", help="Release namespace for Helm charts."),
            click.option(
                "--no-render", is_flag=True, help="Treat Helm chart and Kustomize directories as plain files."
            ),
        ]
    ):
        f = opt(f)
    return f


def _load(
    paths: tuple[str, ...], kw: dict[str, Any], drop_policies: bool = False
) -> tuple[list[tuple[str | None, Cluster]], list[str]]:
    """The cluster model of each analysis unit of PATHs and every problem met (to print, then exit 3)."""
    from kubefort.kube.netpol_inputs import ExternalError, load_clusters
    from kubefort.loaders.manifests import LoadOptions, UsageError

    opts = LoadOptions(helm_values=tuple(kw["helm_values"]), helm_set=tuple(kw["helm_set"]), namespace=kw["namespace"])
    try:
        return load_clusters(
            paths,
            tuple(kw["exclude"]),
            opts,
            render_dirs=not kw["no_render"],
            external_specs=tuple(kw["externals"]),
            drop_policies=drop_policies,
        )
    except UsageError as exc:  # a PATH that does not exist
        raise FileError(str(exc)) from None
    except ExternalError as exc:
        raise click.BadParameter(str(exc), param_hint="--external") from None


def _one(units: list[tuple[str | None, Cluster]], what: str) -> Cluster:
    """The only unit's model; a usage error when PATHs hold several (their objects never mix)."""
    if len(units) > 1:
        from kubefort.kube.netpol_inputs import unit_name

        names = ", ".join(unit_name(u) for u, _ in units)
        raise click.UsageError(
            f"{what} needs one analysis unit, and PATHs hold {len(units)} ({names}): "
            "give one PATH, Helm chart or kustomization"
        )
    return units[0][1]


def _heading(units: list[tuple[str | None, Cluster]], unit: str | None) -> str:
    from kubefort.kube.netpol_inputs import unit_name

    return f"== {unit_name(unit)} ==\n" if len(units) > 1 else ""


def _finish(problems: list[str], code: int = EXIT_OK) -> None:
    for p in problems:
        click.echo(f"kubefort: not analysed: {p}", err=True)
    sys.exit(EXIT_INCOMPLETE if problems else code)


def _endpoint(c: Cluster, text: str, hint: str) -> int | External:
    try:
        return c.find(text)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint=hint) from None


@click.group("netpol", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def netpol() -> None:
    """NetworkPolicy analysis: who can talk to whom, exactly as the API defines it.

    \b
    kubefort netpol matrix k8s/                     allowed connections, with ports
    kubefort netpol explain shop/web shop/db k8s/   which policies and rules decide
    kubefort netpol diff old/ new/                  connections gained and lost
    kubefort netpol generate k8s/ --allow shop/web:shop/db:5432/TCP
    kubefort netpol observe flows.json -m k8s/      observed flows the policies would block
    """


# ---------------------------------------------------------------------------------------------
@netpol.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    "fmt",
    type=click.Choice(["table", "json", "csv", "dot", "md"]),
    default="table",
    show_default=True,
)
@_input_options
def matrix(paths: tuple[str, ...], fmt: str, **kw: Any) -> None:
    """Every allowed connection between workloads and external peers, with its ports.

    Pairs not listed are denied. `md` prints a grid (rows: sources, columns: destinations).
    """
    units, problems = _load(paths, kw)
    if len(units) > 1 and fmt in ("json", "csv", "dot", "md"):
        if fmt != "json":
            _one(units, f"-o {fmt}")
        docs = []
        for unit, c in units:
            analysis = Analysis(c)
            docs.append({"unit": unit, **json.loads(render_matrix(analysis.matrix(), "json", analysis))})
            problems += [x.message(analysis) for x in analysis.conflicts]
        click.echo(json.dumps({"version": 1, "units": docs}, indent=2))
    else:
        for unit, cluster in units:
            analysis = Analysis(cluster)
            click.echo(_heading(units, unit) + render_matrix(analysis.matrix(), fmt, analysis), nl=False)
            problems += [x.message(analysis) for x in analysis.conflicts]
    _finish(problems)


# ---------------------------------------------------------------------------------------------
@netpol.command()
@click.argument("src")
@click.argument("dst")
@click.argument("paths", nargs=-1, required=True)
@click.option("--port", "port_text", metavar="PORT[/PROTO]", help="Judge this port (TCP unless /UDP or /SCTP).")
@click.option("-o", "--output", "fmt", type=FormatChoice(["table", "json"]), default="table", show_default=True)
@_input_options
def explain(src: str, dst: str, paths: tuple[str, ...], port_text: str | None, fmt: str, **kw: Any) -> None:
    """Which policies and rules allow or deny SRC -> DST, per direction."""
    port: tuple[int, str] | None = None
    if port_text:
        try:
            port = parse_port(port_text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--port") from None
    units, problems = _load(paths, kw)
    cluster = _one(units, "netpol explain")
    s, d = _endpoint(cluster, src, "SRC"), _endpoint(cluster, dst, "DST")
    if isinstance(s, External) and isinstance(d, External):
        raise click.UsageError("SRC and DST are both external peers: no NetworkPolicy applies between them")
    sides = [explain_side(cluster, "egress", s, d), explain_side(cluster, "ingress", d, s)]
    total = ports_inter(sides[0].ports, sides[1].ports)
    names = [cluster.name(s), cluster.name(d)]
    if fmt == "json":
        doc: dict[str, Any] = {
            "source": names[0],
            "destination": names[1],
            "allowed": ports_json(total),
            "all": total == ALL_PORTS,
            "directions": [],
        }
        for side, who in zip(sides, names, strict=False):
            doc["directions"].append(
                {
                    "direction": side.direction,
                    "endpoint": who,
                    "applies": side.applies,
                    "isolated_by": side.isolating,
                    "allowed_by": [
                        {"policy": p, "rule": f"{side.direction}[{i}]", "ports": ports_json(ps)}
                        for p, i, ps in side.allowing
                    ],
                    "decided_by": [
                        {
                            "policy": x.policy or None,
                            "tier": x.tier or None,
                            "rule": x.rule or None,
                            "action": x.action,
                            "ports": ports_json(x.ports),
                        }
                        for x in side.decisions
                    ],
                    "conflicts": side.conflicts,
                    "node": side.node or None,
                    "ports": ports_json(side.ports),
                }
            )
        if port is not None:
            doc["query"] = {"port": port[0], "protocol": port[1], "allowed": ports_contain(total, *port)}
        click.echo(json.dumps(doc, indent=2))
    else:
        click.echo(f"{names[0]} -> {names[1]}")
        for side, who in zip(sides, names, strict=False):
            click.echo(f"  {side.direction} of {who}: " + _side_text(side, port))
            for x in side.decisions:
                if x.tier == "Admin":
                    click.echo(f"    {_verb(x.action)} by {x.policy} {x.rule} ({x.action}): {format_ports(x.ports)}")
            for p, i, ps in side.allowing:
                click.echo(f"    allowed by {p} {side.direction}[{i}]: {format_ports(ps)}")
            for x in side.decisions:
                if x.tier != "Admin":
                    by = f"{x.policy} {x.rule} ({x.action})" if x.policy else "no policy (default allow)"
                    by = f"the end of {x.tier} (defaultAction {x.action})" if x.rule == "end of tier" else by
                    where = f" in {x.tier}" if x.tier.startswith("calico tier") and x.policy else ""
                    click.echo(f"    {_verb(x.action, x.tier)} by {by}{where}: {format_ports(x.ports)}")
            for msg in side.conflicts:
                click.echo(f"    ambiguous: {msg}")
            if side.node and side.decisions:
                click.echo(f"    node traffic: {side.node}")
        click.echo(f"  result: {'denied' if total == NO_PORTS else 'allowed on ' + format_ports(total)}")
        if port is not None:
            click.echo(f"  {port[0]}/{port[1]}: {'allowed' if ports_contain(total, *port) else 'denied'}")
    _finish(problems + [m for side in sides for m in side.conflicts])


def _verb(action: str, tier: str = "") -> str:
    passed = "passed to the next tier" if tier.startswith("calico tier") else "passed to NetworkPolicy"
    return {"Allow": "allowed", "Deny": "denied", "Pass": passed}.get(action, "allowed")


def _side_text(side: Any, port: tuple[int, str] | None) -> str:
    if not side.applies:
        return "external peer, no NetworkPolicy applies"
    if side.node and not side.isolating and not side.decisions:
        return f"{side.node}: everything allowed"
    if side.decisions:
        allowed = format_ports(side.ports)
        if any(d.tier.startswith("calico tier") for d in side.decisions):
            return f"selected by {', '.join(side.isolating)}; Calico tiers, then the namespace profile: allowed on {allowed}"
        if {d.tier for d in side.decisions if d.tier} == {"Cilium"}:  # deny rules win over every allow
            isolated = f"isolated by {', '.join(side.isolating)}; " if side.isolating else ""
            return f"{isolated}Cilium deny rules match: allowed on {allowed}"
        if not side.isolating:
            return f"decided by cluster-wide policies: allowed on {allowed}"
        return f"cluster-wide policies, then isolated by {', '.join(side.isolating)}: allowed on {allowed}"
    if not side.isolating:
        return "not isolated (no policy of this type selects it): everything allowed"
    text = "isolated by " + ", ".join(side.isolating)
    if side.node:
        text += f"; {side.node}"
    elif not side.allowing:
        text += "; no rule allows this peer: denied"
    elif port is not None and not ports_contain(side.ports, *port):
        text += f"; no rule allows {port[0]}/{port[1]}: denied"
    return text


def _kind_option(lead: str) -> Callable[[FC], FC]:
    """--kind: the kind of the policies written (generate, observe --generate)."""
    return click.option(
        "--kind",
        "out_kind",
        type=click.Choice(["networkpolicy", "cilium", "calico"]),
        default="networkpolicy",
        show_default=True,
        help=f"{lead} NetworkPolicies, or CiliumNetworkPolicies or Calico NetworkPolicies with the same effect.",
    )


# ---------------------------------------------------------------------------------------------
@netpol.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("-o", "--output", "fmt", type=FormatChoice(["table", "json"]), default="table", show_default=True)
@click.option("--exit-code", is_flag=True, help="Exit 1 when connectivity differs (as git diff --exit-code).")
@_input_options
def diff_cmd(old: str, new: str, fmt: str, exit_code: bool, **kw: Any) -> None:
    """Connections gained (+) and lost (-) from OLD to NEW (two directories or files)."""
    u_old, p_old = _load((old,), kw)
    u_new, p_new = _load((new,), kw)
    c_old, c_new = _one(u_old, "OLD"), _one(u_new, "NEW")
    a_old, a_new = Analysis(c_old), Analysis(c_new)
    changes = diff(a_old.matrix(), a_new.matrix())
    p_old += [f"OLD: {x.message(a_old)}" for x in a_old.conflicts]
    p_new += [f"NEW: {x.message(a_new)}" for x in a_new.conflicts]
    added = sorted({w.key for w in c_new.workloads} - {w.key for w in c_old.workloads})
    removed = sorted({w.key for w in c_old.workloads} - {w.key for w in c_new.workloads})
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "version": 1,
                    "workloads_added": added,
                    "workloads_removed": removed,
                    "changes": [
                        {"source": s, "destination": d, "gained": ports_json(g), "lost": ports_json(lo)}
                        for s, d, g, lo in changes
                    ],
                },
                indent=2,
            )
        )
    else:
        for w in added:
            click.echo(f"workload added: {w}")
        for w in removed:
            click.echo(f"workload removed: {w}")
        for s, d, g, lo in changes:
            if g != NO_PORTS:
                click.echo(f"+ {s} -> {d}  {format_ports(g)}")
            if lo != NO_PORTS:
                click.echo(f"- {s} -> {d}  {format_ports(lo)}")
        click.echo(
            f"{plural(sum(g != NO_PORTS for _, _, g, _ in changes), 'pair')} gained, {plural(sum(lo != NO_PORTS for _, _, _, lo in changes), 'pair')} lost",
            err=True,
        )
    _finish(p_old + p_new, EXIT_FINDINGS if exit_code and (changes or added or removed) else EXIT_OK)


# ---------------------------------------------------------------------------------------------
@netpol.command()
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--allow",
    "allows",
    multiple=True,
    required=True,
    metavar="SRC:DST[:PORT/PROTO]",
    help="A connection to keep (repeatable); ports comma-separated, none = every port.",
)
@click.option(
    "--out",
    "out_file",
    type=OutputFile("policies file"),
    help="Write the YAML to FILE instead of stdout.",
)
@_kind_option("Write")
@_input_options
def generate(paths: tuple[str, ...], allows: tuple[str, ...], out_file: str | None, out_kind: str, **kw: Any) -> None:
    """Policies for the workloads in PATHs: a default deny per namespace, plus the least rules
    that keep exactly the --allow connections (NetworkPolicies; CiliumNetworkPolicies or Calico
    NetworkPolicies with --kind). Policies already in PATHs are ignored (the output replaces them). The result
    is verified with the engine before it is printed: its matrix equals the intent.
    """
    import yaml

    units, problems = _load(paths, kw, drop_policies=True)
    cluster = _one(units, "netpol generate")
    try:
        intents = [parse_allow(cluster, a) for a in allows]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow") from None
    try:
        docs = generate_policies(cluster, intents)
        docs = {"cilium": as_cilium, "calico": as_calico}.get(out_kind, list)(docs)
    except GenerateError as exc:
        raise click.UsageError(str(exc)) from None
    for warning in host_network_warnings(cluster, intents) + unlabelled_warnings(cluster, intents):
        click.echo(f"kubefort: warning: {warning}", err=True)
    bad = intent_mismatches(cluster, docs, intents)
    if bad:  # a bug guard: never print policies whose effect differs from what was asked
        for b in bad:
            click.echo(f"kubefort: generated policies do not match the intent: {b}", err=True)
        sys.exit(EXIT_INCOMPLETE)
    text = yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)
    what = plural(
        len(docs), {"cilium": "CiliumNetworkPolicy", "calico": "Calico NetworkPolicy"}.get(out_kind, "NetworkPolicy")
    )
    header = f"# generated by kubefort netpol generate: {what} for {plural(len(intents), 'connection')}\n"
    if out_file:
        from kubefort.fileio import write_atomically

        try:
            write_atomically(out_file, header + text)
        except OSError as exc:  # checked before the analysis, but the directory may have gone since
            raise FileError(f"cannot write policies file {out_file}: {os_reason(exc)}") from None
    else:
        click.echo(header + text, nl=False)
    _finish(problems)


# ---------------------------------------------------------------------------------------------
@netpol.command(context_settings={"max_content_width": 100})
@click.argument("flow_files", nargs=-1, required=True, metavar="FLOWS...")
@click.option(
    "-m",
    "--manifests",
    "paths",
    multiple=True,
    required=True,
    metavar="PATH",
    help="Manifests holding the workloads and policies to judge the flows by (repeatable; - for stdin).",
)
@click.option(
    "--format",
    "flow_format",
    type=click.Choice(["auto", "hubble", "calico"]),
    default="auto",
    show_default=True,
    help="Flow log format; auto decides per file from its first record.",
)
@click.option("-o", "--output", "fmt", type=FormatChoice(["table", "json"]), default="table", show_default=True)
@click.option("--generate", is_flag=True, help="Also write policies (--kind) allowing exactly the observed traffic.")
@click.option(
    "--generate-from",
    type=click.Choice(["forwarded", "all"]),
    default="forwarded",
    show_default=True,
    help="Which flows --generate allows: those the CNI forwarded (audit-mode flows included), or all.",
)
@_kind_option("With --generate: write")
@click.option(
    "--out",
    "out_dir",
    type=OutputDir("policies directory"),
    metavar="DIR",
    help="With --generate: write one NAMESPACE.yaml per namespace to DIR.",
)
@click.option(
    "-j", "--jobs", type=int, default=0, help="Worker processes (default: one per CPU; 1 disables parallelism)."
)
@_input_options
def observe(
    flow_files: tuple[str, ...],
    paths: tuple[str, ...],
    flow_format: str,
    fmt: str,
    generate: bool,
    generate_from: str,
    out_kind: str,
    out_dir: str | None,
    jobs: int,
    **kw: Any,
) -> None:
    """Judge observed flows (Hubble `hubble observe -o json`, Calico flow logs; FLOWS files,
    - for stdin) with the policies of the manifests: the connections the policies would block
    (whatever the CNI did), the allow rules no flow used, and flows whose endpoints match no
    workload. --generate adds least-privilege policies for the observed traffic (NetworkPolicies;
    CiliumNetworkPolicies or Calico NetworkPolicies with --kind), re-checked with the engine
    before they are written (to stdout as YAML, the report then going to stderr, or to --out
    DIR). A large flow file is read by several processes (-j).

    \b
    kubefort netpol observe flows.json -m k8s/
    hubble observe -o json --since 1h | kubefort netpol observe - -m k8s/ -o json
    kubefort netpol observe flows.log -m k8s/ --generate --out learned/
    kubefort netpol observe flows.json -m k8s/ --generate --kind cilium --out learned/

    Exit codes: 0 nothing blocked; 1 the policies block some observed flow; 2 usage or I/O error;
    3 a bad flow line or manifest problem (the report is still printed), or no flow judged.
    """
    from click.core import ParameterSource

    from kubefort.kube.netpol.flows import ReadStats
    from kubefort.kube.netpol.observe import Observer, report_doc, report_text, rule_uses
    from kubefort.kube.netpol.observe_read import FlowReader

    if out_dir and not generate:
        raise click.UsageError("--out needs --generate")
    if not generate and click.get_current_context().get_parameter_source("out_kind") == ParameterSource.COMMANDLINE:
        raise click.UsageError("--kind needs --generate")
    if flow_files.count("-") + paths.count("-") > 1:
        raise click.UsageError("stdin (-) can be read once: give it to FLOWS or to --manifests, not both")
    streams = []
    for name in flow_files:
        try:
            streams.append((name, sys.stdin.buffer if name == "-" else open(name, "rb")))  # noqa: SIM115
        except OSError as exc:
            raise FileError(f"cannot read flows {name}: {os_reason(exc)}") from None
    units, problems = _load(paths, kw)
    cluster = _one(units, "netpol observe")
    analysis = Analysis(cluster)
    problems += [x.message(analysis) for x in analysis.conflicts]
    stats = ReadStats()
    obs = Observer(cluster, analysis)
    reader = FlowReader(obs, jobs)
    for name, stream in streams:
        try:
            with stream:
                reader.read(stream, "stdin" if name == "-" else name, flow_format, stats, split=name != "-")
        except OSError as exc:
            raise FileError(f"cannot read flows {name}: {os_reason(exc)}") from None
    groups = obs.result()
    doc = report_doc(cluster, groups, rule_uses(cluster, analysis, groups), obs.unmatched, stats)
    yaml_text = ""
    if generate:
        yaml_text = _learned(cluster, groups, generate_from, out_dir, doc, out_kind)
    text = json.dumps(doc, indent=2) + "\n" if fmt == "json" else report_text(doc)
    click.echo(text, nl=False, err=bool(yaml_text) and fmt == "table")
    if yaml_text and fmt == "table":
        click.echo(yaml_text, nl=False)
    problems += [f"{f}:{n}: {why}" for f, n, why in stats.bad_lines]
    if stats.bad > len(stats.bad_lines):
        problems.append(f"{plural(stats.bad - len(stats.bad_lines), 'more bad line')} not listed")
    if not groups:
        problems.append("no flow was judged: " + ("every endpoint unmatched" if obs.unmatched else "no flow read"))
    _finish(problems, EXIT_FINDINGS if any(not g.allowed for g in groups) else EXIT_OK)


def _learned(
    cluster: Cluster, groups: list[Group], source: str, out_dir: str | None, doc: dict[str, Any], kind: str
) -> str:
    """--generate: the policies of `kind`, re-checked; written to out_dir (returns "") or returned as YAML."""
    import yaml

    from kubefort.kube.netpol.observe import LEARNED_KINDS, learn

    try:
        got = learn(cluster, groups, source, kind)
    except GenerateError as exc:
        raise click.UsageError(f"--generate: {exc}") from None
    if got.mismatches:  # a bug guard: never write policies whose effect differs from the traffic
        for b in got.mismatches:
            click.echo(f"kubefort: generated policies do not match the observed traffic: {b}", err=True)
        sys.exit(EXIT_INCOMPLETE)
    api_version, doc_kind, what = LEARNED_KINDS[kind]
    header = f"# generated by kubefort netpol observe --generate from {source} flows: {plural(len(got.docs), what)}\n"
    doc["learned"] = {"from": source, "kind": kind, "apiVersion": api_version, "resource": doc_kind}
    doc["learned"] |= {"connections": got.connections, "groups": got.groups, "written": out_dir}
    doc["learned"]["policies"] = [f"{d['metadata']['namespace']}/{d['metadata']['name']}" for d in got.docs]
    if not out_dir:
        doc["learned"]["documents"] = got.docs
        return header + yaml.safe_dump_all(got.docs, sort_keys=False, default_flow_style=False)
    from kubefort.kube.netpol.observe import write_learned

    try:
        write_learned(got.docs, header, out_dir)
    except OSError as exc:
        raise FileError(f"cannot write policies to {out_dir}: {os_reason(exc)}") from None
    return ""
