"""KF-META: kubefort's own annotations on scanned objects."""

from collections.abc import Iterator
from typing import Any

from kubefort.config import ANNOTATION, parse_ignore_annotation
from kubefort.kube.pods import find_pods
from kubefort.model import CheckContext, NotEvaluated, Path_, Resource, Severity, Violation, format_path
from kubefort.registry import REGISTRY, check


def _ann_value(meta: Any, path: Path_ = ("metadata",)) -> Any:
    """The annotation's value (None: absent); NotEvaluated when annotations is not a mapping, which
    the API server rejects (the loader refuses it on the object's own metadata)."""
    ann = meta.get("annotations") if isinstance(meta, dict) else None
    if ann is not None and not isinstance(ann, dict):
        raise NotEvaluated(f"{format_path(path + ('annotations',))} is not a mapping", path + ("annotations",))
    return ann.get(ANNOTATION) if ann is not None else None


@check(
    id="KF-META-001",
    name="invalid-ignore-annotation",
    title="kubefort.io/ignore annotation is malformed",
    verified="kubefort.io/ignore annotation is absent or well-formed",
    severity=Severity.MEDIUM,
    target="object",
    remediation="Write each entry as CHECK[containers]=reason, separated by ';' or new lines, with a known check ID or name.",
)
def invalid_ignore_annotation(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Validates the `kubefort.io/ignore` annotation on the object and on its pod template. Each
    entry names a check (ID or name), optionally the containers it applies to, and a reason:
    `KF-POD-001=reason`, `privileged-container[vpn]=reason`. Entries are separated by `;` or
    new lines. An entry without a reason or naming an unknown check is reported here and
    suppresses nothing.

    ## Why is this bad?
    An exception without a reason cannot be reviewed, and one with a typo in the check ID
    silently suppresses nothing, so the author believes a finding is accepted when it is not.

    ## Example
    ```yaml
    metadata:
      annotations:
        kubefort.io/ignore: "KF-POD-01"   # unknown ID, and no reason
    ```

    ## How to fix
    ```yaml
    metadata:
      annotations:
        kubefort.io/ignore: "KF-POD-001[vpn]=needs NET_ADMIN on the node, reviewed in SEC-142"
    ```

    ## Not evaluated when
    The object's pod template, or its `metadata.annotations`, is malformed (the API server
    rejects the object) and the annotations that can be read are valid.

    ## References
    - docs/exceptions.md
    """
    values: list[tuple[Path_, Any]] = [(("metadata", "annotations", ANNOTATION), _ann_value(res.obj.get("metadata")))]
    unread: NotEvaluated | None = None  # a pod template whose annotations cannot be read
    try:
        for p in find_pods(res):
            if p.meta is not None:
                values.append((p.meta.path + ("annotations", ANNOTATION), _ann_value(p.meta.data, p.meta.path)))
    except NotEvaluated as exc:
        unread = exc
    found = [
        Violation(f"{ANNOTATION}: {err}", path)
        for path, v in values
        if v is not None
        for err in parse_ignore_annotation(v, REGISTRY)[1]
    ]
    if not found and unread is not None:
        raise unread
    yield from found
