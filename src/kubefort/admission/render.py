"""The AdmissionResponse of a verdict: the denial message, the warnings, the audit annotations.

* **enforce**: `allowed: false` and a `status` (403 Forbidden) whose message lists each failed
  check: its ID, the message `kubefort scan` gives, the field and the fix. The API server prints it
  after `admission webhook "<name>" denied the request: `; kubectl shows it as is. The list is
  capped (MAX_DENIED checks, MAX_MESSAGE characters) so that a very bad object still gives a
  readable answer; `status.details.causes` holds every failure as data (reason = check ID, field).
* **warn**: `warnings`, one per finding; the API server turns them into `Warning` headers, which
  kubectl prints on stderr. It keeps each to 256 characters and all of them to 4 KiB, and drops a
  warning with a control character (k8s.io/apiserver/pkg/endpoints/filters/warning.go,
  apimachinery's NewWarningHeader): every warning here is one line within those limits.
  Findings that are denied are in the message, not repeated as warnings.
* **audit**: `auditAnnotations` {"audit-violations": ...}; the API server records it in the
  request's audit event as `<webhook name>/audit-violations` (any audit level from Metadata up).
"""

from __future__ import annotations

from typing import Any

from kubefort.admission.judge import Finding, Verdict
from kubefort.admission.policy import level_name
from kubefort.admission.review import Review
from kubefort.wording import plural

MAX_DENIED = 10  # failures spelled out in a denial; the others are named by ID
MAX_MESSAGE = 4000  # characters of the denial message
WARNING_RUNES = 256  # the API server truncates each warning here
WARNINGS_TOTAL = 4096  # ... and stops adding warnings past this many characters
AUDIT_KEY = "audit-violations"
AUDIT_VALUE_MAX = 10_000


_CONTROLS = dict.fromkeys([*range(32), 127], " ")


def one_line(text: str) -> str:
    """Control characters (newlines included) as spaces: a warning header must be one line."""
    return text.translate(_CONTROLS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def finding_line(f: Finding) -> str:
    """`KF-POD-001 privileged-container (critical): <message> [field]`."""
    state = "" if f.evaluated else " not evaluated"
    where = f" [{f.field}]" if f.field else ""
    return f"{f.check_id} {f.name} ({f.severity.label}){state}: {f.message}{where}"


def scope(review: Review) -> str:
    return f"namespace {review.namespace}" if review.namespace else "cluster-scoped object"


def deny_message(review: Review, verdict: Verdict) -> str:
    """The denial: a head line, one line per denied check (most severe first) while they fit,
    the IDs of the others, how to except a finding, and the namespace problems."""
    denied = verdict.by_mode("enforce")
    level = level_name(verdict.levels.enforce)
    what = f"{review.kind or 'object'} {review.object_name()}".rstrip()
    head = f"kubefort: {what} fails {plural(len(denied), 'check')} enforced at {level} and above ({scope(review)}):"
    tail = [
        "`kubefort explain <ID>` shows each check; an accepted risk is excepted with the annotation "
        "kubefort.io/ignore: <ID>=<reason> or in .kubefort.yaml",
        *(f"note: {one_line(p)}" for p in verdict.problems),
    ]
    budget = MAX_MESSAGE - len(head) - sum(len(t) + 1 for t in tail) - 200  # room for the "and N more" line
    lines = [head]
    shown = 0
    for f in denied[:MAX_DENIED]:
        line = _cut(f"- {one_line(finding_line(f))}. Fix: {one_line(f.fix)}", 1000)
        if len(line) + 1 > budget:
            break
        budget -= len(line) + 1
        lines.append(line)
        shown += 1
    rest = denied[shown:]
    if rest:
        lines.append(_cut(f"- and {plural(len(rest), 'more check')}: {', '.join(f.check_id for f in rest)}", 200))
    return "\n".join([*lines, *tail])


def warnings(verdict: Verdict) -> list[str]:
    """One line per finding in warn mode (and not denied), then the namespace problems; within
    the API server's limits, the last one saying how many did not fit."""
    items = [f"kubefort: {p}" for p in verdict.problems]
    items += [f"kubefort {finding_line(f)}" for f in verdict.findings if "warn" in f.modes and "enforce" not in f.modes]
    out: list[str] = []
    total = 0
    for i, item in enumerate(items):
        text = _cut(one_line(item), WARNING_RUNES)
        more = len(items) - i - 1
        reserve = 80 if more else 0  # room for the last line
        if total + len(text) + reserve > WARNINGS_TOTAL:
            out.append(f"kubefort: {plural(len(items) - i, 'more warning')} not shown (the API server's limit)")
            break
        out.append(text)
        total += len(text)
    return out


def audit_annotations(verdict: Verdict) -> dict[str, str]:
    audited = verdict.by_mode("audit")
    if not audited:
        return {}
    return {AUDIT_KEY: _cut("; ".join(one_line(finding_line(f)) for f in audited), AUDIT_VALUE_MAX)}


def causes(findings: list[Finding]) -> list[dict[str, str]]:
    """metav1.StatusCause per denied finding: the check ID as reason, the message, the field."""
    return [{"reason": f.check_id, "message": f.message, "field": f.field} for f in findings]


def admission_response(review: Review, verdict: Verdict) -> dict[str, Any]:
    """`response` of the AdmissionReview (without the uid)."""
    out: dict[str, Any] = {"allowed": verdict.allowed}
    if not verdict.allowed:
        out["status"] = {
            "status": "Failure",
            "code": 403,
            "reason": "Forbidden",
            "message": deny_message(review, verdict),
            "details": {"causes": causes(verdict.by_mode("enforce"))},
        }
    warn = warnings(verdict)
    if warn:
        out["warnings"] = warn
    annotations = audit_annotations(verdict)
    if annotations:
        out["auditAnnotations"] = annotations
    return out
