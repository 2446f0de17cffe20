"""A realistic history view dict (the shape `kubefort.history.view.build_view` returns), made
without a store: for the HTML report's tests, its screenshots and its benchmark.

`sample_view(scans=..., findings=..., seed=...)` draws a fleet (a repository, two clusters, a
node) scanned over time: per-scan outcomes and failures by severity that drift down with noise,
key metrics with trends (some not available, with the reason), time to remediate per severity,
framework compliance with not-evaluated controls, the top checks and namespaces, and `findings`
open findings spread over the targets with real check IDs, names and fixes from the registry.
The same arguments give the same dict.
"""

from __future__ import annotations

import random
from typing import Any

from kubefort.registry import REGISTRY, load_builtin_checks

SEVERITIES = ("critical", "high", "medium", "low", "info")
DAY = 86_400.0
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z: fixed, so screenshots and sizes do not drift
TARGETS = (
    {
        "key": "repo:https://git.example.com/platform/deploy.git",
        "kind": "repo",
        "labels": {"remote": "https://git.example.com/platform/deploy.git", "branch": "main"},
    },
    {"key": "cluster:prod-eu-west-1", "kind": "cluster", "labels": {"context": "prod-eu-west-1"}},
    {"key": "cluster:staging", "kind": "cluster", "labels": {"context": "staging"}},
    {"key": "node:ip-10-0-3-17", "kind": "node", "labels": {"node": "ip-10-0-3-17"}},
)
SCAN_KIND = {"repo": "manifests", "cluster": "cluster", "node": "node"}
NAMESPACES = ("payments", "checkout", "kube-system", "monitoring", "ingress-nginx", "default", "search", "auth")
KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob", "Role", "ClusterRoleBinding", "Service", "Ingress")
FRAMEWORKS = (("CIS", 120), ("NSA-CISA", 36), ("PSS", 19), ("MITRE ATT&CK", 41), ("OWASP K8s Top 10", 10))

# (name, title, unit, definition, not-available reason or None, start, end)
METRICS: tuple[tuple[str, str, str, str, str | None, float, float], ...] = (
    ("roles", "RBAC roles", "count", "Roles and ClusterRoles defined.", None, 180, 164),
    (
        "least_privilege_roles",
        "Least-privilege roles",
        "ratio",
        "Share of roles granting no wildcard verb or resource, no escalate/bind/impersonate.",
        None,
        0.71,
        0.86,
    ),
    (
        "netpol_namespaces",
        "Namespaces with NetworkPolicies",
        "ratio",
        "Share of workload namespaces where a NetworkPolicy selects every pod.",
        None,
        0.40,
        0.75,
    ),
    (
        "non_root_pods",
        "Pods running as non-root",
        "ratio",
        "Share of pod templates that cannot run as UID 0.",
        None,
        0.55,
        0.81,
    ),
    ("privileged_pods", "Privileged pods", "count", "Pod templates with a privileged container.", None, 9, 2),
    (
        "security_context_violations",
        "Security-context violations",
        "count",
        "Failed KF-POD security-context checks.",
        None,
        420,
        230,
    ),
    (
        "vulnerabilities_per_image",
        "Vulnerabilities per image",
        "count",
        "Known CVEs per container image.",
        "no image scan data in this scan (image_scans in .kubefort.yaml)",
        0,
        0,
    ),
    (
        "time_to_remediate",
        "Time to remediate (median)",
        "seconds",
        "Median open-to-fixed time.",
        None,
        9 * DAY,
        4 * DAY,
    ),
    (
        "audit_coverage",
        "Audit coverage",
        "ratio",
        "Share of sensitive requests the audit Policy records at Metadata or above.",
        "no audit analysis stored for this target",
        0,
        0,
    ),
    ("suspicious_events", "Suspicious events", "count", "Audit findings (KF-AUDIT checks) per analysis.", None, 14, 6),
    (
        "secrets_encrypted_at_rest",
        "Secrets encrypted at rest",
        "bool",
        "The API server's encryption configuration covers Secrets.",
        None,
        0,
        1,
    ),
)


def _checks() -> list[Any]:
    load_builtin_checks()
    return [m for m in REGISTRY if not m.id.startswith("KF-INPUT")]


def _trend(rng: random.Random, times: list[float], start: float, end: float, integer: bool) -> list[list[float]]:
    out = []
    n = max(len(times) - 1, 1)
    for i, t in enumerate(times):
        v = start + (end - start) * i / n
        v *= 1 + rng.uniform(-0.04, 0.04)
        out.append([t, float(round(v)) if integer else round(v, 4)])
    return out


def _scans(rng: random.Random, n: int, since: float) -> list[dict[str, Any]]:
    scans = []
    base = {"critical": 12, "high": 60, "medium": 140, "low": 90, "info": 20}
    for i in range(n):
        t = since + (NOW - since) * (i + 1) / (n + 1)
        target = TARGETS[i % len(TARGETS)]
        progress = i / max(n - 1, 1)
        failed = {s: max(0, round(v * (1 - 0.6 * progress) * rng.uniform(0.9, 1.1))) for s, v in base.items()}
        if target["kind"] == "node":
            failed = {s: v // 6 for s, v in failed.items()}
        total_failed = sum(failed.values())
        scans.append(
            {
                "uid": f"{rng.getrandbits(128):032x}",
                "target": target["key"],
                "kind": SCAN_KIND[str(target["kind"])],
                "finished_at": round(t, 3),
                "complete": rng.random() > 0.05,
                "outcomes": {
                    "passed": 2_000 + rng.randrange(400),
                    "failed": total_failed,
                    "suppressed": rng.randrange(15),
                    "not-evaluated": rng.randrange(30),
                },
                "failed_by_severity": failed,
            }
        )
    return scans


def _finding(rng: random.Random, checks: list[Any], since: float) -> dict[str, Any]:
    meta = rng.choice(checks)
    target = rng.choice(TARGETS)
    ns = rng.choice(NAMESPACES)
    kind = rng.choice(KINDS)
    name = f"{rng.choice(('api', 'web', 'worker', 'db', 'cache', 'gateway'))}-{rng.randrange(100)}"
    resource = {"apiVersion": "apps/v1", "kind": kind, "namespace": ns, "name": name}
    where = f"apps/{ns}/{name}.yaml:{rng.randrange(1, 400)}" if target["kind"] == "repo" else f"{kind}/{ns}/{name}"
    first = rng.uniform(since, NOW)
    container = rng.choice(("app", "sidecar", "init"))
    return {
        "fingerprint": f"{rng.getrandbits(96):024x}",
        "target": target["key"],
        "check_id": meta.id,
        "check_name": meta.name,
        "severity": meta.severity.label,
        "resource": resource,
        "where": where,
        "message": f'container "{container}" of {kind} {ns}/{name}: {meta.title.lower()}',
        "remediation": meta.remediation,
        "first_seen_at": round(first, 3),
        "age_s": round(NOW - first, 3),
    }


def sample_view(*, scans: int = 60, findings: int = 200, seed: int = 1, since_days: float = 90.0) -> dict[str, Any]:
    """A view dict with `scans` scans and `findings` open findings (see the module docstring)."""
    rng = random.Random(seed)
    checks = _checks()
    since = NOW - since_days * DAY
    scan_rows = _scans(rng, scans, since)
    times = [s["finished_at"] for s in scan_rows]
    metrics = []
    for name, title, unit, definition, reason, start, end in METRICS:
        available = reason is None
        integer = unit in ("count", "bool")
        trend = _trend(rng, times, start, end, integer) if available else []
        if unit == "bool" and trend:
            trend = [[t, 1.0 if i >= len(trend) // 2 else 0.0] for i, (t, _) in enumerate(trend)]
        metrics.append(
            {
                "name": name,
                "title": title,
                "value": trend[-1][1] if trend else None,
                "unit": unit,
                "available": available,
                "reason": reason
                if not available
                else ("2 of 40 namespaces could not be read" if name == "netpol_namespaces" else None),
                "partial": name == "netpol_namespaces",
                "definition": definition,
                "checks": [c.id for c in rng.sample(checks, 3)],
                "trend": trend,
            }
        )
    open_findings = [_finding(rng, checks, since) for _ in range(findings)]
    by_check: dict[str, int] = {}
    by_ns: dict[str, int] = {}
    for f in open_findings:
        by_check[f["check_id"]] = by_check.get(f["check_id"], 0) + 1
        ns = f["resource"]["namespace"]
        by_ns[ns] = by_ns.get(ns, 0) + 1
    meta_by_id = {m.id: m for m in checks}
    top_checks = [
        {"check_id": c, "name": meta_by_id[c].name, "severity": meta_by_id[c].severity.label, "open": n}
        for c, n in sorted(by_check.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    ]
    top_namespaces = [
        {"namespace": ns, "open": n} for ns, n in sorted(by_ns.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    ]
    by_severity: dict[str, dict[str, float | int | None]] = {}
    for i, sev in enumerate(SEVERITIES):
        count = rng.randrange(0, 40) if sev != "info" else 0
        median = (i + 1) * 1.5 * DAY * rng.uniform(0.8, 1.2)
        by_severity[sev] = {
            "median_s": round(median) if count else None,
            "p90_s": round(median * rng.uniform(2.0, 3.5)) if count else None,
            "count": count,
        }
    days = [NOW - d * DAY for d in range(int(since_days), 0, -1)]
    frameworks = []
    for fw, controls in FRAMEWORKS:
        not_evaluated = rng.randrange(0, controls // 4 + 1)
        failing = rng.randrange(0, (controls - not_evaluated) // 2 + 1)
        passing = controls - not_evaluated - failing
        states = ["failing"] * failing + ["not-evaluated"] * not_evaluated + ["passing"] * passing + ["not-covered"] * 3
        detail = [
            {
                "control": f"{fw.split()[0]}-{i + 1}.{rng.randrange(1, 9)}",
                "state": st,
                "checks": [c.id for c in rng.sample(checks, 2)],
            }
            for i, st in enumerate(states)
        ]
        frameworks.append(
            {
                "framework": fw,
                "controls": controls,
                "passing": passing,
                "failing": failing,
                "not_evaluated": not_evaluated,
                "not_covered": 3,
                "share_passing": round(passing / controls, 6) if controls else None,
                "detail": detail,
            }
        )
    return {
        "generated_at": NOW,
        "since": since,
        "store": "postgresql://kubefort:***@db.example.com/kubefort",
        "target": None,
        "targets": [dict(t) for t in TARGETS],
        "scans": scan_rows,
        "metrics": metrics,
        "ttr": {
            "by_severity": by_severity,
            "fixed_per_day": [[d, rng.randrange(0, 12)] for d in days],
            "open_per_day": [
                [d, round(400 - 200 * i / len(days) + rng.randrange(-15, 15))] for i, d in enumerate(days)
            ],
        },
        "frameworks": frameworks,
        "top_checks": top_checks,
        "top_namespaces": top_namespaces,
        "open_findings": open_findings,
        "open_totals": {
            "count": len(open_findings),
            "by_severity": {s: sum(1 for f in open_findings if f["severity"] == s) for s in SEVERITIES},
            "targets": len({f["target"] for f in open_findings}),
            "listed": len(open_findings),
        },
    }
