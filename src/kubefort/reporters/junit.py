"""JUnit XML: one <testsuite> per check, one <testcase> per check x object (x container).

Several outcomes of one check on the same object and container (two offending fields, say) make one
test case; its verdict is the worst of them: failed > not-evaluated (<error>) > suppressed (<skipped>)
> passed. Outcomes about a whole input (no object) are one test case per check and file.
Passed test cases are always listed: CI dashboards count them. A check with no test case (it ran,
but nothing in the scan was in its scope) gets no <testsuite>: an empty suite is noise to CI.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from kubefort.model import Outcome, ScanResult, Status, format_path
from kubefort.registry import Registry
from kubefort.reporters import check_meta, checks_in_report, object_title, outcome_location, sort_outcomes

_VERDICT_ORDER = {Status.FAILED: 0, Status.NOT_EVALUATED: 1, Status.SUPPRESSED: 2, Status.PASSED: 3}
# XML 1.0 forbids most control characters even when escaped
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render(result: ScanResult, registry: Registry) -> str:
    groups: dict[tuple[str, str, str, str], list[Outcome]] = defaultdict(list)
    for o in sort_outcomes(result.outcomes):
        file, _, _ = outcome_location(o)
        target = str(o.resource) if o.resource is not None else ""
        groups[(o.check_id, target, o.container or "", file or "")].append(o)

    by_check: dict[str, list[list[Outcome]]] = defaultdict(list)
    for (check_id, _, _, _), outcomes in groups.items():  # insertion order is report order
        by_check[check_id].append(outcomes)

    root = ET.Element("testsuites", name="kubefort")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for check_id in checks_in_report(result):
        if not by_check.get(check_id):
            continue
        meta = check_meta(registry, check_id)
        suite = ET.SubElement(root, "testsuite", name=f"{meta.id} {meta.name}")
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for outcomes in by_check.get(check_id, []):
            verdict = _testcase(suite, outcomes, meta.remediation)
            counts["tests"] += 1
            if verdict is Status.FAILED:
                counts["failures"] += 1
            elif verdict is Status.NOT_EVALUATED:
                counts["errors"] += 1
            elif verdict is Status.SUPPRESSED:
                counts["skipped"] += 1
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", "0")
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{result.duration_s:.3f}")

    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _testcase(suite: ET.Element, outcomes: list[Outcome], remediation: str) -> Status:
    first = outcomes[0]
    file, line, _ = outcome_location(first)
    if first.resource is not None:
        name = object_title(first.resource, first.source) + (
            f" (container: {first.container})" if first.container else ""
        )
        classname = _display(file) if file else first.resource.kind
    else:
        name = _display(file) if file else "input"
        classname = name
    case = ET.SubElement(suite, "testcase", name=_clean(name), classname=_clean(classname), time="0")
    if file:
        case.set("file", _clean(_display(file)))
    if line is not None:
        case.set("line", str(line))

    verdict = min((o.status for o in outcomes), key=_VERDICT_ORDER.__getitem__)
    worst = [o for o in outcomes if o.status is verdict]
    if verdict is Status.FAILED:
        el = ET.SubElement(case, "failure", message=_clean(_joined(worst)), type=worst[0].severity.label)
        details = [_detail(o) for o in outcomes]
        if remediation:
            details.append(f"fix: {remediation}")
        el.text = _clean("\n".join(details))
    elif verdict is Status.NOT_EVALUATED:
        el = ET.SubElement(case, "error", message=_clean("not evaluated: " + _joined(worst)), type="not-evaluated")
        el.text = _clean("\n".join(_detail(o) for o in outcomes))
    elif verdict is Status.SUPPRESSED:
        reasons = list(dict.fromkeys(o.suppression.reason for o in worst if o.suppression is not None))
        ET.SubElement(case, "skipped", message=_clean("suppressed: " + ("; ".join(reasons) or "no reason given")))
    return verdict


def _detail(o: Outcome) -> str:
    file, line, col = outcome_location(o)
    where = _display(file) if file else ""
    if where and line is not None:
        where += f":{line}" + (f":{col}" if col is not None else "")
    parts = [f"[{o.status.value}] {o.message or o.check_id}"]
    if o.path:
        parts.append(f"at {format_path(o.path)}")
    if where:
        parts.append(f"({where})")
    if o.suppression is not None:
        parts.append(f"suppressed: {o.suppression.reason}")
    return " ".join(parts)


def _joined(outcomes: list[Outcome]) -> str:
    return "; ".join(dict.fromkeys(o.message or o.check_id for o in outcomes))


def _display(file: str) -> str:
    return "stdin" if file == "-" else file


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\ufffd", text)
