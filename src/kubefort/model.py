"""The finding model: frozen data that flows from loaders through the engine to reporters.

load -> Resource -> engine runs checks -> Outcome -> ScanResult -> reporters.
Nothing here performs I/O.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

Path_ = tuple[str | int, ...]  # a path inside a Kubernetes object: ("spec", "containers", 0, "image")


class Severity(enum.IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose one of: {choices})") from None


class Status(str, enum.Enum):  # noqa: UP042 - StrEnum would change str(status) in reports
    PASSED = "passed"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    NOT_EVALUATED = "not-evaluated"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a resource came from: a file (and the document inside it), stdin, or a renderer."""

    file: str  # path as given by the user (relative when the user gave a relative path), or "-"
    # 0-based YAML document index inside the file; for rendered output, inside `file` when `line`
    # is set (the document was identified exactly), else inside the rendered stream
    doc_index: int = 0
    # 1-based line where the document (or List item) starts in `file`; rendered output has one
    # only where kustomize named the resource file and the document in it was identified exactly
    line: int | None = None
    item_path: Path_ = ()  # path of the object inside its document (("items", 3) for List members)
    rendered_by: str | None = None  # "helm" / "kustomize" when the text was rendered
    # helm: the template file from the "# Source:" comment; kustomize: the kustomization directory built
    template: str | None = None
    # the analysis unit the object belongs to (a PATH given, a Helm chart, a kustomization):
    # cross-object checks never mix units; None: the scan's only unit (a cluster, one object)
    unit: str | None = None

    def __reduce__(self) -> tuple[type[Source], tuple[Any, ...]]:  # fields as a tuple: 5x faster to pickle
        return Source, (
            self.file,
            self.doc_index,
            self.line,
            self.item_path,
            self.rendered_by,
            self.template,
            self.unit,
        )

    @property
    def fingerprint_file(self) -> str:
        """The file a finding's fingerprint names: for kustomize output the kustomization built
        (one base file renders into several kustomizations), otherwise `file`."""
        return self.template if self.rendered_by == "kustomize" and self.template else self.file


@dataclass(frozen=True, slots=True)
class ResourceId:
    api_version: str
    kind: str
    namespace: str | None
    name: str

    def as_dict(self) -> dict[str, str | None]:
        return {"apiVersion": self.api_version, "kind": self.kind, "namespace": self.namespace, "name": self.name}

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"

    def __reduce__(self) -> tuple[type[ResourceId], tuple[Any, ...]]:  # pickles between processes, fast
        return ResourceId, (self.api_version, self.kind, self.namespace, self.name)


@dataclass(slots=True)
class Resource:
    """One Kubernetes object as loaded, with where it came from."""

    id: ResourceId
    obj: dict[str, Any]
    source: Source

    def __reduce__(self) -> tuple[type[Resource], tuple[Any, ...]]:  # pickles between processes, fast
        return Resource, (self.id, self.obj, self.source)


@dataclass(frozen=True, slots=True)
class Location:
    file: str
    line: int | None = None
    column: int | None = None

    def __reduce__(self) -> tuple[type[Location], tuple[Any, ...]]:  # pickles between processes, fast
        return Location, (self.file, self.line, self.column)


@dataclass(frozen=True, slots=True)
class Violation:
    """What a check yields: a message and the path of the offending field (relative to the object)."""

    message: str
    path: Path_ = ()
    container: str | None = None


class NotApplicable(Exception):
    """Raised by a cross-object check when its target is outside its documented scope."""


class NotEvaluated(Exception):
    """Raised by views and checks when an object cannot be judged (wrong types, missing data)."""

    def __init__(self, reason: str, path: Path_ = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


@dataclass(frozen=True, slots=True)
class Suppression:
    kind: str  # "annotation" | "config" | "baseline"
    reason: str
    expires: str | None = None
    where: str | None = None  # e.g. ".kubefort.yaml:12" or the annotation key

    def __reduce__(self) -> tuple[type[Suppression], tuple[Any, ...]]:  # pickles between processes, fast
        return Suppression, (self.kind, self.reason, self.expires, self.where)


@dataclass(slots=True)
class Outcome:
    check_id: str
    status: Status
    resource: ResourceId | None
    source: Source | None
    container: str | None = None
    message: str = ""
    path: Path_ = ()
    location: Location | None = None
    fingerprint: str = ""
    suppression: Suppression | None = None
    severity: Severity = Severity.INFO
    event: dict[str, Any] | None = None  # audit findings: the event (AuditEvent.summary())


def format_path(path: Path_) -> str:
    """("spec", "containers", 0, "image") -> "spec.containers[0].image"."""
    return _format_path(path if type(path) is tuple else tuple(path))


@functools.lru_cache(maxsize=65536)  # the same field paths recur in every object
def _format_path(path: Path_) -> str:
    out: list[str] = []
    for p in path:
        if isinstance(p, int):
            out.append(f"[{p}]")
        else:
            out.append(("." if out else "") + str(p))
    return "".join(out)


def fingerprint(check_id: str, rid: ResourceId | None, container: str | None, path: Path_, file: str | None) -> str:
    """A stable identity for a finding: it ignores line numbers and message wording.

    List indexes inside the path are kept only where no container name disambiguates, so
    moving unrelated lines, re-ordering documents or editing other fields never changes it.
    """
    parts = [check_id, file or ""]
    if rid is not None:
        parts += [rid.kind, rid.namespace or "", rid.name]
    parts.append(container or "")
    path = path if type(path) is tuple else tuple(path)
    parts.append(format_path(path) if container is None else format_path(_strip_container_prefix(path)))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


@functools.lru_cache(maxsize=65536)
def _strip_container_prefix(path: Path_) -> Path_:
    # drop "...containers[3]" so that re-ordering containers does not change the fingerprint
    for i in range(len(path) - 1, 0, -1):
        if isinstance(path[i], int) and path[i - 1] in ("containers", "initContainers", "ephemeralContainers"):
            return (path[i - 1],) + tuple(path[i + 1 :])
    return path


@dataclass(slots=True)
class InputRecord:
    """One input the user named (or that was found under a directory) and what became of it."""

    path: str
    kind: str  # "file" | "stdin" | "helm" | "kustomize"
    documents: int = 0
    objects: int = 0
    skipped: list[str] = field(default_factory=list)  # documents that were not Kubernetes objects, with reason
    error: str | None = None


@dataclass(slots=True)
class ScanResult:
    tool_version: str
    outcomes: list[Outcome]
    inputs: list[InputRecord]
    resources: list[tuple[ResourceId, Source]]
    checks_run: list[str]
    warnings: list[str] = field(default_factory=list)
    unused_exceptions: list[str] = field(default_factory=list)
    expired_exceptions: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    finished_at: float = 0.0  # Unix time the scan ended (0: unknown, e.g. a result built by hand)
    # passes counted but not kept as objects (no report asked to list them: EngineSettings.keep_passed)
    passed_omitted: int = 0
    # the same per check ID, where the driver counted them per check (the audit driver counts
    # its passes only in total: `check_counts` leaves those out)
    passed_omitted_by_check: dict[str, int] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    # per-object additions to the report's `objects` list (for example the `pss` verdict)
    object_extra: dict[tuple[ResourceId, Source], dict[str, Any]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        c = {s.value: 0 for s in Status}
        for o in self.outcomes:  # ._value_: a plain attribute (.value is a property call per outcome)
            c[o.status._value_] += 1
        c[Status.PASSED.value] += self.passed_omitted
        return c

    def check_counts(self) -> dict[str, dict[str, int]]:
        """Per check run, its outcomes by status (`passed`, `failed`, `suppressed`,
        `not-evaluated`), passes the engine counted without keeping included."""
        out = {cid: {s.value: 0 for s in Status} for cid in self.checks_run}
        for o in self.outcomes:
            c = out.get(o.check_id)
            if c is None:
                c = out[o.check_id] = {s.value: 0 for s in Status}
            c[o.status._value_] += 1
        for cid, n in self.passed_omitted_by_check.items():
            c = out.get(cid)
            if c is None:
                c = out[cid] = {s.value: 0 for s in Status}
            c[Status.PASSED.value] += n
        return out


# ---------------------------------------------------------------------------------------------
# what a check receives besides its target (the typed check interface)
# ---------------------------------------------------------------------------------------------
OptionsT = TypeVar("OptionsT")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CheckContext(Generic[OptionsT]):
    """What a check may consult besides its target.

    `options` is the check's options dataclass (filled from `.kubefort.yaml`, or its defaults);
    checks without options get `CheckContext[None]`. `pod_template_paths` are the user's extra
    pod-template locations per kind (for checks that look for pods in other objects).
    """

    options: OptionsT
    pod_template_paths: Mapping[str, Sequence[Path_]] = field(default_factory=dict)


class OffUntilSet:
    """Options of a check that judges nothing until configured (a bound, an allow-list, networks):
    `off` while every option is unset (empty or zero). Drivers never call a check whose options
    are off (its every outcome would be "not applicable"): the engine and the audit analyzer
    both honour it."""

    __slots__ = ()

    @property
    def off(self) -> bool:
        return not any(getattr(self, f.name) for f in dataclasses.fields(self))  # type: ignore[arg-type]


def options_off(options: object) -> bool:
    """Whether a check's options leave it off (see `OffUntilSet`)."""
    return isinstance(options, OffUntilSet) and options.off


class ClusterIndex(Protocol):
    """The objects a cross-object (`target="cluster"`) check may look at: those of its `kinds` and
    `needs`, from every input of the scan unit."""

    @property
    def resources(self) -> Sequence[Resource]: ...

    @property
    def pod_bearing(self) -> Sequence[Resource]:
        """Every collected object that carries a pod spec."""
        ...

    def kind(self, kind: str) -> Sequence[Resource]: ...

    def namespace(self, name: str | None) -> Resource | None:
        """The v1 Namespace object of that name, if it was read."""
        ...

    def in_namespace(self, kind: str, namespace: str) -> Sequence[Resource]: ...

    def derived(self, key: str, build: Callable[[], T]) -> T:
        """Data derived once per index and shared by every check of the scan (an RBAC policy, a
        NetworkPolicy model): `build()` runs on the first call with `key`."""
        ...
