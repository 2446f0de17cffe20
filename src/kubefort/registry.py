"""The check registry: every check is a small pure function registered with metadata.

Find any check from its ID: `kubefort explain KF-POD-001`, or grep for the ID; each area
module in `kubefort/checks/` holds the checks of one ID prefix.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from kubefort.kube.pods import ContainerView, PodView
from kubefort.model import CheckContext, ClusterIndex, Resource, Severity, Violation

if TYPE_CHECKING:  # the audit package is imported only by what reads audit events (`Registry.defer`)
    from kubefort.audit.context import AuditContext, AuditScope
    from kubefort.audit.event import AuditEvent

ID_RE = re.compile(r"^KF-[A-Z]+-\d{3}$")
ID_PREFIX_RE = re.compile(r"^KF-[A-Z]+-$")
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

# What a check function receives, declared by `target`:
#   "object"    -> (resource: Resource, ctx)          runs once per object of the listed kinds
#   "pod"       -> (pod: PodView, ctx)                runs once per pod spec found in the object
#   "container" -> (pod: PodView, c: ContainerView, ctx)  runs once per container (all container kinds)
#   "cluster"   -> (resource: Resource, index: ClusterIndex, ctx)  runs once per object of `kinds`
#                  after every input is loaded; the index holds the objects of `kinds` + `needs`
#                  ("@pods" = every object that carries a pod spec, "@namespaced-pods" = those
#                  of them that name their namespace; usable in `kinds` and `needs`)
#   "input"     -> never called: outcomes come from loaders (parse / render failures)
#   "audit"     -> (ev: AuditEvent, ctx: AuditContext)  runs once per API request recorded in an
#                  audit log that its `audit` scope admits (kubefort/audit/analyzer.py)
TARGETS = ("object", "pod", "container", "cluster", "input", "audit")

# The check function of each target. The registry holds checks of every options type, so the
# context's options type is erased here (`Any`); each check annotates its own `CheckContext[...]`.
ObjectCheck = Callable[[Resource, CheckContext[Any]], Iterable[Violation]]
PodCheck = Callable[[PodView, CheckContext[Any]], Iterable[Violation]]
ContainerCheck = Callable[[PodView, ContainerView, CheckContext[Any]], Iterable[Violation]]
ClusterCheck = Callable[[Resource, ClusterIndex, CheckContext[Any]], Iterable[Violation]]
InputCheck = Callable[[], Iterable[Violation]]  # never called: it only carries the documentation
AuditCheck = Callable[["AuditEvent", "AuditContext[Any]"], Iterable[Violation]]
CheckFunc = ObjectCheck | PodCheck | ContainerCheck | ClusterCheck | InputCheck | AuditCheck
CheckFuncT = TypeVar("CheckFuncT", bound=CheckFunc)


@dataclass(frozen=True, slots=True)
class Mappings:
    cis: tuple[str, ...] = ()
    nsa: tuple[str, ...] = ()
    pss: tuple[str, ...] = ()
    mitre: tuple[str, ...] = ()
    owasp: tuple[str, ...] = ()
    trivy: tuple[str, ...] = ()
    checkov: tuple[str, ...] = ()
    kubescape: tuple[str, ...] = ()
    kube_linter: tuple[str, ...] = ()
    polaris: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(getattr(self, k)) for k in self.__slots__ if getattr(self, k)}


@dataclass(frozen=True, slots=True)
class CheckMeta:
    id: str
    name: str
    title: str
    severity: Severity
    area: str
    target: str
    kinds: frozenset[str] | None  # None = every kind (for "object"); pod-bearing checks ignore it
    mappings: Mappings
    # the docstring as written: `doc` is its cleaned text, made when first read (cleaning ~250
    # docstrings at import would cost every command's start-up)
    raw_doc: str
    remediation: str
    func: CheckFunc | None = field(compare=False, default=None)
    source: str = ""  # "kubefort/checks/pod_security/privileges.py:42": where the check is defined
    options: type[object] | None = None  # a dataclass of settings, filled from `.kubefort.yaml` options
    needs: frozenset[str] = frozenset()  # cluster checks: other kinds the index must hold
    # facts a driver may leave out on request (e.g. "anonymous-probe"): when one was, a
    # not-evaluated outcome of this check is "not evaluated by request" (EngineSettings.skipped_facts)
    facts: frozenset[str] = frozenset()
    # a namespace-level check whose outcome is a column of the cluster's namespace posture table
    # (JSON `extras.cluster.namespaces.<ns>.<posture>`): true passed, false failed, null not evaluated
    posture: str | None = None
    # what a passed outcome verified, in words ("Container does not run privileged"): reports show
    # it on passed rows, where the title (which names the problem) would read like a failure
    verified: str = ""
    # audit checks: which events the analyzer hands them (verbs, resources)
    audit: AuditScope | None = None

    @property
    def doc(self) -> str:
        """The check's documentation (ruff-style '## ' sections), indentation removed."""
        return _clean_doc(self.raw_doc)

    def passed_text(self) -> str:
        """What a passed outcome of this check says: `verified`, or a generic phrase with the name."""
        return self.verified or f"check passed: {self.name}"

    def sections(self) -> dict[str, str]:
        """The doc split into its '## Heading' sections (ruff-style rule docs)."""
        out: dict[str, str] = {}
        current: str | None = None
        for line in self.doc.splitlines():
            m = re.match(r"^##\s+(.*)$", line)
            if m:
                current = m.group(1).strip()
                out[current] = ""
            elif current is not None:
                out[current] += line + "\n"
        return {k: v.strip("\n") for k, v in out.items()}


@functools.lru_cache(maxsize=1024)
def _clean_doc(raw: str) -> str:
    return inspect.cleandoc(raw)


REQUIRED_SECTIONS = ("What it does", "Why is this bad?", "Example", "How to fix", "References")


class Registry:
    """Checks by ID and name. An area may be *deferred* (`defer`): its module is imported the
    first time anything needs one of its checks (a lookup by ID or name, an ID prefix that can
    reach it, listing every check), so commands that never run it (a manifest scan and the
    KF-AUDIT checks) do not pay for importing it. `loaded()` and `iter_without` list checks
    without importing deferred areas."""

    def __init__(self) -> None:
        self._by_id: dict[str, CheckMeta] = {}
        self._by_name: dict[str, CheckMeta] = {}
        self._deferred: dict[str, str] = {}  # ID prefix ("KF-AUDIT-") -> module registering its checks

    def defer(self, prefix: str, module: str) -> None:
        """Register the checks whose IDs start with `prefix` by importing `module` when first needed."""
        if not ID_PREFIX_RE.match(prefix):
            raise ValueError(f"deferred area {prefix!r} is not an ID prefix like 'KF-AUDIT-'")
        self._deferred[prefix] = module

    def _load(self, reaches: Callable[[str], bool] | None = None) -> bool:
        """Import the deferred areas `reaches` selects (all by default); True when any was."""
        todo = [p for p in self._deferred if reaches is None or reaches(p)]
        for prefix in todo:
            module = self._deferred.pop(prefix)
            importlib.import_module(module)
        return bool(todo)

    def add(self, meta: CheckMeta) -> None:
        if not ID_RE.match(meta.id):
            raise ValueError(f"check ID {meta.id!r} does not match KF-<AREA>-<NNN>")
        if not NAME_RE.match(meta.name):
            raise ValueError(f"check name {meta.name!r} is not kebab-case")
        if meta.id in self._by_id:
            raise ValueError(f"duplicate check ID {meta.id}")
        if meta.name in self._by_name:
            raise ValueError(f"duplicate check name {meta.name}")
        if meta.target not in TARGETS:
            raise ValueError(f"{meta.id}: unknown target {meta.target!r}")
        if meta.target == "cluster" and not meta.kinds:
            raise ValueError(f"{meta.id}: a cluster check needs target kinds")
        if (meta.target == "audit") != (meta.audit is not None):
            raise ValueError(f"{meta.id}: an audit check, and only an audit check, declares its `audit` scope")
        if meta.options is not None and not dataclasses.is_dataclass(meta.options):
            raise ValueError(f"{meta.id}: options must be a dataclass")
        if meta.verified.strip().lower() == meta.title.strip().lower():
            raise ValueError(f"{meta.id}: `verified` says what a pass verified; it cannot repeat the title")
        self._by_id[meta.id] = meta
        self._by_name[meta.name] = meta

    def __iter__(self) -> Iterator[CheckMeta]:
        self._load()
        return self.loaded()

    def __len__(self) -> int:
        self._load()
        return len(self._by_id)

    def loaded(self) -> Iterator[CheckMeta]:
        """The checks registered so far, in ID order, importing no deferred area."""
        return iter(sorted(self._by_id.values(), key=lambda m: m.id))

    def iter_without(self, prefixes: Iterable[str]) -> Iterator[CheckMeta]:
        """Every check but those whose ID starts with one of `prefixes`, importing only the
        deferred areas those prefixes do not cover."""
        skip = tuple(prefixes)
        self._load(lambda p: not p.startswith(skip))
        return (m for m in self.loaded() if not m.id.startswith(skip))

    def get(self, key: str) -> CheckMeta:
        """Look a check up by ID or name; raises KeyError with a helpful message."""
        k = key.strip()
        meta = self._by_id.get(k.upper()) or self._by_name.get(k.lower())
        if meta is None and self._deferred:
            u = k.upper()
            # an ID loads only the area it names; a name may be in any of them
            self._load(u.startswith if u.startswith("KF-") else None)
            meta = self._by_id.get(u) or self._by_name.get(k.lower())
        if meta is None:
            raise KeyError(f"unknown check {key!r} (see `kubefort checks`)")
        return meta

    def select(self, keys: Iterable[str]) -> list[CheckMeta]:
        """IDs, names or ID prefixes ("KF-POD", "KF-POD-00"). Unknown keys raise KeyError."""
        out: dict[str, CheckMeta] = {}
        for key in keys:
            k = key.strip()
            if not k:
                continue
            if k.upper() in self._by_id or k.lower() in self._by_name:
                m = self.get(k)
                out[m.id] = m
                continue
            u = k.upper()
            if u.startswith("KF-"):  # an ID prefix: the deferred areas it can reach
                self._load(lambda p, u=u: p.startswith(u) or u.startswith(p))  # type: ignore[misc]
            else:  # a name, perhaps of a deferred check
                self._load()
            if u in self._by_id or k.lower() in self._by_name:
                m = self.get(k)
                out[m.id] = m
                continue
            pref = [m for i, m in self._by_id.items() if i.startswith(k.upper()) and k.upper().startswith("KF-")]
            if not pref:
                raise KeyError(f"unknown check {key!r} (see `kubefort checks`)")
            for m in pref:
                out[m.id] = m
        return sorted(out.values(), key=lambda m: m.id)


REGISTRY = Registry()


def source_of(filename: str, line: int) -> str:
    """ "kubefort/checks/etcd.py:42" for a definition in `filename` at `line`."""
    src = filename.replace("\\", "/")
    return f"{src[src.rfind('kubefort/') :]}:{line}" if "kubefort/" in src else f"{src}:{line}"


def caller_source(depth: int = 1) -> str:
    """The `source` of the call `depth` frames up from the caller: a family helper (one call per
    check, with literal arguments) passes `caller_source()` so that a check's source is its call."""
    frame = sys._getframe(depth + 1)
    return source_of(frame.f_code.co_filename, frame.f_lineno)


def check(
    *,
    id: str,
    name: str,
    title: str,
    severity: Severity,
    target: str,
    verified: str = "",
    kinds: Iterable[str] | None = None,
    mappings: Mappings = Mappings(),
    remediation: str,
    options: type[object] | None = None,
    needs: Iterable[str] = (),
    facts: Iterable[str] = (),
    posture: str | None = None,
    audit: AuditScope | None = None,
    doc: str | None = None,
    source: str | None = None,
    registry: Registry | None = None,
) -> Callable[[CheckFuncT], CheckFuncT]:
    """Register a check: the one way checks enter the registry.

    The documentation is `doc` when given (family helpers compose it), else the function's
    docstring (ruff-style sections). `source` is where the check is defined, by default the
    decorated function (its first decorator line); family helpers pass the line of their call.
    `verified` is what a pass means, in words ("Namespace has a Pod Security enforce label"):
    the title names the problem, and a passed row that repeated it would read like a failure.
    """

    def deco(func: CheckFuncT) -> CheckFuncT:
        text = doc if doc is not None else func.__doc__ or ""
        area = id.split("-")[1]
        src = source
        if src is None:
            # the code object knows where the definition starts (its first decorator): reading the
            # source with inspect would cost every command a third of a second at start-up
            code = getattr(func, "__code__", None)
            src = source_of(code.co_filename, code.co_firstlineno) if code is not None else ""
        meta = CheckMeta(
            id=id,
            name=name,
            title=title,
            severity=severity,
            area=area,
            target=target,
            kinds=frozenset(kinds) if kinds is not None else None,
            mappings=mappings,
            raw_doc=text,
            remediation=remediation,
            func=func,
            source=src,
            options=options,
            needs=frozenset(needs),
            facts=frozenset(facts),
            posture=posture,
            verified=verified,
            audit=audit,
        )
        (registry or REGISTRY).add(meta)
        func.meta = meta  # type: ignore[union-attr]
        return func

    return deco


def load_builtin_checks() -> Registry:
    """Import every check module (explicitly, as yamllint does) and return the registry."""
    import kubefort.checks  # noqa: F401

    return REGISTRY
