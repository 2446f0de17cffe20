"""How the human (table) report shows audit findings and audit metrics.

An audit finding is about one event: its group header says who did what
(`alice@example.com create pods/exec kube-system/etcd-node-1`), each row adds when, from
where and with what answer; the summary adds the access metrics (`extras.audit`,
kubefort/audit/metrics.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubefort.wording import inflect

TOP = 3  # principals and resources named per metric in the summary


def _get(d: Mapping[str, Any], key: str) -> Any:
    v = d.get(key)
    return v if v is not None else ""


def target(event: Mapping[str, Any]) -> str:
    """What the request acted on: `pods/exec kube-system/etcd-node-1`, `secrets (all namespaces)`,
    or the path of a non-resource request."""
    ref = event.get("objectRef") or {}
    resource = _get(ref, "resource")
    if not resource:
        return str(_get(event, "requestURI")).split("?", 1)[0] or "(no resource)"
    group = _get(ref, "apiGroup")
    what = f"{resource}.{group}" if group else str(resource)
    if _get(ref, "subresource"):
        what += f"/{ref['subresource']}"
    ns, name = _get(ref, "namespace"), _get(ref, "name")
    if name:
        return f"{what} {ns}/{name}" if ns else f"{what} {name}"
    return f"{what} in {ns}" if ns else what


def who(event: Mapping[str, Any]) -> str:
    user = _get(event.get("user") or {}, "username") or "an unauthenticated user"
    imp = _get(event.get("impersonatedUser") or {}, "username")
    return f"{user} (as {imp})" if imp else str(user)


def header(event: Mapping[str, Any]) -> str:
    """`alice@example.com create pods/exec kube-system/etcd-node-1`."""
    return f"{who(event)} {_get(event, 'verb') or '(no verb)'} {target(event)}"


def detail(event: Mapping[str, Any]) -> str:
    """When, from where, with what answer: `at 2026-11-30T10:00:00.123456Z from 10.0.0.7
    (kubectl/v1.37.0), response 101, auditID 5b2f...`."""
    parts = [f"at {_get(event, 'stageTimestamp') or '(no time)'}"]
    ips = event.get("sourceIPs") or []
    if ips:
        parts.append("from " + ", ".join(str(i) for i in ips))
    agent = _get(event, "userAgent")
    text = " ".join(parts) + (f" ({agent})" if agent else "")
    code = event.get("responseCode")
    text += f", response {code}" if code is not None else ", no response recorded"
    aid = _get(event, "auditID")
    return text + (f", auditID {aid}" if aid else "")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {inflect(n, noun)}"


def _top(table: Mapping[str, Any]) -> str:
    counts: Mapping[str, int] = table.get("counts") or {}
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    text = ", ".join(f"{k} {n:,}" for k, n in ranked)
    more = len(counts) - len(ranked)
    if more > 0 or table.get("other"):
        text += ", ..."
    return text


def json_compact(data: Any) -> str:
    """A small mapping on one line (`key value, ...`)."""
    if isinstance(data, Mapping):
        return ", ".join(f"{k} {v}" for k, v in data.items() if not isinstance(v, Mapping | list))
    return str(data)


def summary_lines(audit: Mapping[str, Any]) -> list[str]:
    """The access metrics in a few lines (the JSON report's extras.audit has them all)."""
    events = audit.get("events") or {}
    lines = [
        f"audit: {_count(events.get('total', 0), 'event')}, {_count(audit.get('requests', 0), 'request')} judged"
        + (f", from {events['first']} to {events['last']}" if events.get("first") else "")
    ]
    denied = audit.get("access_violations") or {}
    if denied.get("total"):
        codes = ", ".join(f"{c}: {n:,}" for c, n in sorted((denied.get("by_code") or {}).items()))
        lines.append(
            f"access violations (401/403): {denied['total']:,} ({codes}); most by "
            f"{_top(denied.get('by_principal') or {})}; on {_top(denied.get('by_resource') or {})}"
        )
    else:
        lines.append("access violations (401/403): none")
    secrets = audit.get("secrets") or {}
    if secrets.get("total"):
        by_principal = secrets.get("by_principal") or {}
        n = len(by_principal.get("counts") or {})
        lines.append(
            f"Secret requests: {secrets['total']:,} by {_count(n, 'principal')}"
            + (" and more" if by_principal.get("other") else "")
            + f"; most by {_top(by_principal)}; verbs {_top(secrets.get('by_verb') or {})}"
        )
    checks: Mapping[str, Mapping[str, int]] = audit.get("checks") or {}
    found = [(cid, c.get("findings", 0)) for cid, c in sorted(checks.items()) if c.get("findings")]
    if found:
        lines.append("suspicious events by check: " + ", ".join(f"{cid} {n:,}" for cid, n in found))
    cov = audit.get("coverage")
    if cov:
        from kubefort.audit.coverage import summary_lines as coverage_lines

        lines += [f"audit policy: {line}" for line in coverage_lines(cov)]
    base = audit.get("baseline")
    if base:
        lines.append(f"usage baseline: {json_compact(base)}")
    ttd = audit.get("time_to_detect")
    if ttd:
        lines.append(
            f"time to detect: p50 {ttd['p50']:.3f}s, p99 {ttd['p99']:.3f}s, max {ttd['max']:.3f}s"
            f" ({_count(ttd['count'], 'event')})"
        )
    return lines
