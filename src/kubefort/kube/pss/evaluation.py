"""Running the PSS controls: the registry of every control (:data:`CONTROLS`), the selection a
level runs at a policy version (:func:`controls_for`), :func:`evaluate`, the one-pass
:class:`PodEvaluation` (:func:`evaluate_all`) and its memo for scanned pods
(:func:`evaluate_shared`, :func:`shared_evaluation`)."""

from __future__ import annotations

import functools
import marshal
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from kubefort.kube.pss.baseline import BASELINE_CONTROLS
from kubefort.kube.pss.decode import Decoded, decode
from kubefort.kube.pss.model import (
    CHECKS,
    LATEST_MINOR,
    LEVELS,
    Control,
    Pod,
    PSSInputError,
    PSSViolation,
    Violations,
    parse_version,
)
from kubefort.kube.pss.restricted import RESTRICTED_CONTROLS

_DIGITS_RE = re.compile(r"(\d+)")


def _field_key(field: str) -> tuple[str | int, ...]:
    parts = _DIGITS_RE.split(field)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def _sort_key(v: PSSViolation) -> tuple[str, tuple[str | int, ...], str]:
    return (v.control, _field_key(v.field), v.value)


CONTROLS: tuple[Control, ...] = BASELINE_CONTROLS + RESTRICTED_CONTROLS
if {c.name for c in CONTROLS} != set(CHECKS):  # pragma: no cover - a table edited by hand
    raise RuntimeError("every PSS check needs exactly one control function")


@functools.lru_cache(maxsize=64)
def _clamped_minor(version: str) -> int:
    """The minor version a policy version selects (newer than :data:`LATEST` clamps to it)."""
    return min(parse_version(version)[1], LATEST_MINOR)


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"invalid PSS level {level!r}: expected one of {', '.join(LEVELS)}")


def controls_for(level: str, version: str = "latest") -> tuple[Control, ...]:
    """The controls a level runs at a policy version (none for privileged), as upstream's
    registry selects them: the checks that exist at that version, minus, at restricted, the
    baseline checks a restricted check overrides there."""
    _check_level(level)
    return _controls_for(level, _clamped_minor(version))


@functools.cache
def _controls_for(level: str, minor: int) -> tuple[Control, ...]:
    """The controls of a level at a minor version, ordered by name: each control's violations come
    sorted, so the concatenation is in the documented order (control, then field) unsorted."""
    if level == "privileged":
        return ()
    restricted = level == "restricted"
    return tuple(
        sorted(
            (
                c
                for c in CONTROLS
                if c.since <= minor
                and (restricted or c.level == "baseline")
                and not (restricted and c.overridden_from is not None and minor >= c.overridden_from)
            ),
            key=lambda c: c.name,
        )
    )


def _raise_for(decoded: Decoded, controls: Sequence[Control]) -> Pod:
    """The decoded pod, or the input error this selection of controls reports first (a new
    exception each time: a decoded pod is shared by every caller that asks about it)."""
    if decoded.host_path_error is not None and any(c.name == "hostPathVolumes" for c in controls):
        raise PSSInputError(*decoded.host_path_error.args)
    if decoded.pod is None:
        raise PSSInputError(*decoded.error.args) if decoded.error else PSSInputError("the pod could not be decoded")
    return decoded.pod


def _run(control: Control, pod: Pod, minor: int) -> Violations:
    """A control's violations ordered by field (natural order of indexes), then value."""
    found = control.check(pod, minor)
    if len(found) > 1:
        found.sort(key=_sort_key)
    return found


# --------------------------------------------------------------------------- evaluation


def evaluate(
    pod_metadata: Mapping[str, Any] | None,
    pod_spec: Mapping[str, Any] | None,
    level: str,
    version: str = "latest",
) -> list[PSSViolation]:
    """Evaluate a pod (or pod template) against a PSS level at a policy version.

    Returns the violations ordered by control, then field (natural order of indexes);
    an empty list means upstream would admit the pod. Raises :class:`ValueError` for an
    unknown level or version and :class:`PSSInputError` (a ValueError) for a pod whose
    field types the Kubernetes API could not decode. ``privileged`` always returns ``[]``.
    Runs only the level's controls; :func:`evaluate_all` answers every level at once.
    """
    _check_level(level)
    minor = _clamped_minor(version)
    if level == "privileged":
        return []
    controls = _controls_for(level, minor)
    pod = _raise_for(decode(pod_metadata, pod_spec), controls)
    return [v for c in controls for v in _run(c, pod, minor)]


class PodEvaluation:
    """Every control that exists at one policy version, evaluated once for one pod.

    :meth:`violations` answers each level from these results exactly as :func:`evaluate`
    would (same violations in the same order, same input error)."""

    __slots__ = ("_by_control", "_by_level", "_decoded", "minor")

    def __init__(
        self, pod_metadata: Mapping[str, Any] | None, pod_spec: Mapping[str, Any] | None, version: str = "latest"
    ) -> None:
        self.minor = _clamped_minor(version)
        self._decoded, self._by_control = _evaluate_controls(pod_metadata, pod_spec, self.minor)
        self._by_level: dict[str, tuple[PSSViolation, ...]] = {}

    @classmethod
    def of(cls, other: PodEvaluation) -> PodEvaluation:
        """A new evaluation with the results of `other` (of a pod with the same content)."""
        ev = cls.__new__(cls)
        ev.minor, ev._decoded, ev._by_control, ev._by_level = other.minor, other._decoded, other._by_control, {}
        return ev

    def violations(self, level: str) -> list[PSSViolation]:
        """What :func:`evaluate` returns (or raises) for this pod, version and `level`."""
        _check_level(level)
        if level == "privileged":
            return []
        found = self._by_level.get(level)
        if found is None:
            controls = _controls_for(level, self.minor)
            _raise_for(self._decoded, controls)
            found = self._by_level[level] = tuple(v for c in controls for v in self._by_control[c.name])
        return list(found)  # a new list each time: callers may change theirs


def _evaluate_controls(
    pod_metadata: Mapping[str, Any] | None, pod_spec: Mapping[str, Any] | None, minor: int
) -> tuple[Decoded, dict[str, Violations]]:
    """The decoded pod and the violations of every control that exists at `minor` (none when the
    pod could not be decoded). Neither is changed afterwards."""
    decoded = decode(pod_metadata, pod_spec)
    by_control: dict[str, Violations] = {}
    pod = decoded.pod
    if pod is not None:
        for c in CONTROLS:
            if c.since <= minor:
                by_control[c.name] = _run(c, pod, minor)
    return decoded, by_control


def evaluate_all(
    pod_metadata: Mapping[str, Any] | None, pod_spec: Mapping[str, Any] | None, version: str = "latest"
) -> PodEvaluation:
    """Evaluate every control of a policy version once; ask the result for any level."""
    return PodEvaluation(pod_metadata, pod_spec, version)


def _content_key(pod_metadata: object, pod_spec: object, minor: int) -> bytes | None:
    """What the evaluation of a pod reads, as bytes that only equal content (values and their
    types: `1`, `1.0` and `true` differ, a NaN is not a null) gives: the metadata's annotations
    (or the metadata itself when it is not a mapping), the spec and the policy minor version.
    None when some value is not plain data (marshal refuses it)."""
    meta = pod_metadata.get("annotations") if type(pod_metadata) is dict else pod_metadata
    read: Any = (minor, type(pod_metadata) is dict, meta, pod_spec)
    try:
        return marshal.dumps(read)
    except ValueError:
        return None


class _SharedEvaluations:
    """The evaluations of the most recently judged pods, by the identity of their metadata and
    spec objects and the policy minor version. Entries hold their objects, so an identity
    cannot be reused while cached; a scan never modifies the objects it judges.

    Pods of the same content share their results too (`by_content`): the replicas of a
    workload, and in admission control every pod a controller creates from one template and
    every re-applied object, are judged once. Each pod still gets its own `PodEvaluation`."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[int, int, int], tuple[object, object, PodEvaluation]] = OrderedDict()
        self.by_content: OrderedDict[bytes, PodEvaluation] = OrderedDict()

    def get(
        self, pod_metadata: Mapping[str, Any] | None, pod_spec: Mapping[str, Any] | None, version: str
    ) -> PodEvaluation:
        minor = _clamped_minor(version)
        key = (id(pod_metadata), id(pod_spec), minor)
        hit = self.entries.get(key)
        if hit is not None and hit[0] is pod_metadata and hit[1] is pod_spec:
            self.entries.move_to_end(key)
            return hit[2]
        content = _content_key(pod_metadata, pod_spec, minor)
        same = None if content is None else self.by_content.get(content)
        if same is not None and content is not None:
            self.by_content.move_to_end(content)
            ev = PodEvaluation.of(same)
        else:
            ev = PodEvaluation(pod_metadata, pod_spec, version)
            if content is not None:
                self.by_content[content] = ev
                if len(self.by_content) > self.size:
                    self.by_content.popitem(last=False)
        self.entries[key] = (pod_metadata, pod_spec, ev)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return ev


_SHARED = _SharedEvaluations(256)


def evaluate_shared(
    pod_metadata: Mapping[str, Any] | None,
    pod_spec: Mapping[str, Any] | None,
    level: str,
    version: str = "latest",
) -> list[PSSViolation]:
    """:func:`evaluate`, with one :class:`PodEvaluation` per (pod, version) shared by every level.

    For the objects of a scan, which are not modified while they are judged: the baseline and
    restricted checks and the report verdict of one pod pass the same metadata and spec objects
    (not copies) and get them evaluated once. The most recent 256 pods are kept."""
    _check_level(level)
    if level == "privileged":
        parse_version(version)
        return []
    return shared_evaluation(pod_metadata, pod_spec, version).violations(level)


def shared_evaluation(
    pod_metadata: Mapping[str, Any] | None, pod_spec: Mapping[str, Any] | None, version: str = "latest"
) -> PodEvaluation:
    """The :class:`PodEvaluation` of these metadata and spec objects at `version`, computed on the
    first call and kept for the next ones (see :func:`evaluate_shared`)."""
    return _SHARED.get(pod_metadata, pod_spec, version)
