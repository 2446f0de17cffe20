"""`.kubefort.yaml`: check selection, severity overrides, exceptions, pod-template paths.

Every key is validated up front: an unknown key, an unknown check, a missing reason or a bad
date is a usage error (exit 2), never a silently ignored setting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

from kubefort.loaders.yamlparse import parse_stream
from kubefort.model import Outcome, Path_, Severity, Suppression
from kubefort.registry import CheckMeta, Registry
from kubefort.wording import inflect

if typing.TYPE_CHECKING:
    from kubefort.admission.policy import AdmissionSettings

CONFIG_NAMES = (".kubefort.yaml", ".kubefort.yml")
ANNOTATION = "kubefort.io/ignore"


class ConfigError(Exception):
    pass


@dataclass(slots=True)
class ExceptionRule:
    checks: frozenset[str]
    reason: str
    where: str
    kinds: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    # audit findings only: the user who sent the request (`user.username`, never an impersonated
    # user: naming a user must not excuse whoever impersonates them) and that user's groups
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    expires: dt.date | None = None
    used: int = 0

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def matches(self, o: Outcome) -> bool:
        if o.check_id not in self.checks:
            return False
        rid = o.resource
        if self.kinds and (rid is None or rid.kind not in self.kinds):
            return False
        if self.namespaces and (rid is None or not _glob_any(rid.namespace or "", self.namespaces)):
            return False
        if self.names and (rid is None or not _glob_any(rid.name, self.names)):
            return False
        if self.containers and not _glob_any(o.container or "", self.containers):
            return False
        if (self.users or self.groups) and not self._user_matches(o):
            return False
        return not (self.files and (o.source is None or not _glob_any(o.source.file, self.files)))

    def _user_matches(self, o: Outcome) -> bool:
        user = (o.event or {}).get("user")
        if not isinstance(user, dict):
            return False  # not an audit finding: a rule naming users never matches it
        if self.users and not _glob_any(str(user.get("username") or ""), self.users):
            return False
        groups = [str(g) for g in user.get("groups") or ()]
        return not self.groups or any(_glob_any(g, self.groups) for g in groups)

    def describe(self) -> str:
        scope = ", ".join(
            f"{k}={list(v)}"
            for k, v in (
                ("kinds", self.kinds),
                ("namespaces", self.namespaces),
                ("names", self.names),
                ("containers", self.containers),
                ("files", self.files),
                ("users", self.users),
                ("groups", self.groups),
            )
            if v
        )
        return f"{self.where}: {', '.join(sorted(self.checks))}" + (f" ({scope})" if scope else "")


def _glob_any(value: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


@dataclass(slots=True)
class Config:
    path: str | None = None
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    severity: dict[str, Severity] = field(default_factory=dict)
    fail_on: Severity | None = None
    exceptions: list[ExceptionRule] = field(default_factory=list)
    pod_template_paths: dict[str, list[Path_]] = field(default_factory=dict)
    options: dict[str, object] = field(default_factory=dict)  # check ID -> its options dataclass instance
    admission: AdmissionSettings | None = None  # `admission:` (kubefort admission serve), validated


_TOP = {
    "checks",
    "severity",
    "fail_on",
    "exceptions",
    "pod_template_paths",
    "options",
    "admission",
    "image_scans",
    "image_verification",
}


def make_options(meta: CheckMeta, raw: object, where: str) -> object:
    """Build a check's options dataclass from config, rejecting unknown keys and wrong types."""
    options = meta.options
    if options is None:
        raise ConfigError(f"{where}: {meta.id} takes no options")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of option -> value")
    if not dataclasses.is_dataclass(options):  # Registry.add refuses such checks
        raise TypeError(f"{meta.id}: options must be a dataclass")
    hints = typing.get_type_hints(options)
    names = {f.name for f in dataclasses.fields(options)}
    unknown = set(raw) - names
    if unknown:
        raise ConfigError(
            f"{where}: {inflect(len(unknown), 'unknown option')} {sorted(unknown)} for {meta.id} (allowed: {sorted(names)})"
        )
    values: dict[str, object] = {}
    for key, v in raw.items():
        t = hints[key]
        origin = typing.get_origin(t)
        if origin in (tuple, list) or t in (tuple, list):
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ConfigError(f"{where}: {key}: expected a list of strings, got {v!r}")
            values[key] = tuple(v)
        elif t is bool:
            if not isinstance(v, bool):
                raise ConfigError(f"{where}: {key}: expected true or false, got {v!r}")
            values[key] = v
        elif t is int:
            if not isinstance(v, int) or isinstance(v, bool):
                raise ConfigError(f"{where}: {key}: expected an integer, got {v!r}")
            values[key] = v
        elif t is float:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise ConfigError(f"{where}: {key}: expected a number, got {v!r}")
            values[key] = float(v)
        elif t is str:
            if not isinstance(v, str):
                raise ConfigError(f"{where}: {key}: expected a string, got {v!r}")
            values[key] = v
        else:  # pragma: no cover - a check declared an option type config cannot express
            raise ConfigError(f"{where}: {key}: unsupported option type {t}")
    try:
        return options(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


_EXC = {"checks", "reason", "kinds", "namespaces", "names", "containers", "files", "users", "groups", "expires"}


def find_config(start: str | None) -> Path | None:
    """The nearest .kubefort.yaml at or above `start` (a file or directory; cwd when None)."""
    p = Path(start or ".").resolve()
    if p.is_file() or not p.exists():
        p = p.parent
    for d in (p, *p.parents):
        for n in CONFIG_NAMES:
            if (d / n).is_file():
                return d / n
    return None


def _strs(v: object, where: str) -> tuple[str, ...]:
    if isinstance(v, str):
        return (v,)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return tuple(v)
    raise ConfigError(f"{where}: expected a string or a list of strings, got {v!r}")


def parse_path(text: str) -> Path_:
    """ "spec.templates[0].spec" -> ("spec", "templates", 0, "spec")."""
    out: list[str | int] = []
    for part in text.split("."):
        m = re.fullmatch(r"([^\[\]]+)((?:\[\d{1,9}\])*)", part)
        if not m:
            raise ConfigError(f"bad path {text!r}")
        out.append(m.group(1))
        out.extend(int(i) for i in re.findall(r"\[(\d{1,9})\]", m.group(2)))
    return tuple(out)


def load_config(path: Path, registry: Registry) -> Config:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    parsed = parse_stream(data)
    if parsed.error or parsed.doc_errors:
        e = parsed.error or next(iter(parsed.doc_errors.values()))
        raise ConfigError(f"{path}:{e.line}: {e.message}")
    doc = parsed.docs[0] if parsed.docs else {}
    return config_from_doc(doc or {}, path, registry)


def config_from_doc(doc: object, path: Path, registry: Registry) -> Config:
    """The Config of a decoded `.kubefort.yaml` document; `path` names it in errors and is what
    relative paths in it (scan data, keys) are relative to."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    unknown = set(doc) - _TOP
    if unknown:
        raise ConfigError(f"{path}: {inflect(len(unknown), 'unknown key')} {sorted(unknown)} (allowed: {sorted(_TOP)})")
    cfg = Config(path=str(path))

    def ids(keys: tuple[str, ...], where: str) -> list[str]:
        try:
            return [m.id for m in registry.select(keys)]
        except KeyError as exc:
            raise ConfigError(f"{where}: {exc.args[0]}") from None

    checks = doc.get("checks") or {}
    if not isinstance(checks, dict) or set(checks) - {"select", "ignore"}:
        raise ConfigError(f"{path}: checks: expected a mapping with 'select' and/or 'ignore'")
    if "select" in checks:
        cfg.select = ids(_strs(checks["select"], f"{path}: checks.select"), f"{path}: checks.select")
    if "ignore" in checks:
        cfg.ignore = ids(_strs(checks["ignore"], f"{path}: checks.ignore"), f"{path}: checks.ignore")
    sev = doc.get("severity") or {}
    if not isinstance(sev, dict):
        raise ConfigError(f"{path}: severity: expected a mapping of check -> severity")
    for k, v in sev.items():
        for cid in ids((str(k),), f"{path}: severity"):
            try:
                cfg.severity[cid] = Severity.parse(str(v))
            except ValueError as exc:
                raise ConfigError(f"{path}: severity.{k}: {exc}") from None
    if doc.get("fail_on") is not None:
        try:
            cfg.fail_on = Severity.parse(str(doc["fail_on"]))
        except ValueError as exc:
            raise ConfigError(f"{path}: fail_on: {exc}") from None
    exc_list = doc.get("exceptions") or []
    if not isinstance(exc_list, list):
        raise ConfigError(f"{path}: exceptions: expected a list")
    for i, e in enumerate(exc_list):
        where = f"{path.name} exceptions[{i}]"
        if not isinstance(e, dict):
            raise ConfigError(f"{where}: expected a mapping")
        bad = set(e) - _EXC
        if bad:
            raise ConfigError(f"{where}: {inflect(len(bad), 'unknown key')} {sorted(bad)} (allowed: {sorted(_EXC)})")
        if "checks" not in e:
            raise ConfigError(f"{where}: 'checks' is required")
        reason = e.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"{where}: a non-empty 'reason' is required")
        expires = None
        if e.get("expires") is not None:
            try:
                expires = dt.date.fromisoformat(str(e["expires"]))
            except ValueError:
                raise ConfigError(f"{where}: expires: {e['expires']!r} is not a YYYY-MM-DD date") from None
        cfg.exceptions.append(
            ExceptionRule(
                checks=frozenset(ids(_strs(e["checks"], where), where)),
                reason=reason.strip(),
                where=where,
                kinds=_strs(e.get("kinds", []), where),
                namespaces=_strs(e.get("namespaces", []), where),
                names=_strs(e.get("names", []), where),
                containers=_strs(e.get("containers", []), where),
                files=_strs(e.get("files", []), where),
                users=_strs(e.get("users", []), where),
                groups=_strs(e.get("groups", []), where),
                expires=expires,
            )
        )
    opts = doc.get("options") or {}
    if not isinstance(opts, dict):
        raise ConfigError(f"{path}: options: expected a mapping of check -> options")
    for key, raw in opts.items():
        for cid in ids((str(key),), f"{path}: options"):
            cfg.options[cid] = make_options(registry.get(cid), raw, f"{path.name} options.{key}")
    ptp = doc.get("pod_template_paths") or []
    if not isinstance(ptp, list):
        raise ConfigError(f"{path}: pod_template_paths: expected a list of {{kind, paths}}")
    for i, e in enumerate(ptp):
        if not isinstance(e, dict) or set(e) - {"kind", "paths"} or not isinstance(e.get("kind"), str):
            raise ConfigError(f"{path}: pod_template_paths[{i}]: expected {{kind: Kind, paths: [spec.template.spec]}}")
        cfg.pod_template_paths.setdefault(e["kind"], []).extend(
            parse_path(p) for p in _strs(e.get("paths", []), f"pod_template_paths[{i}]")
        )
    if doc.get("image_scans") is not None:  # scan data for the KF-IMG scan checks (kubefort.images.scandata)
        from kubefort.images.scandata import apply_config

        try:
            apply_config(cfg.options, registry.loaded(), doc["image_scans"], path)
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    if doc.get("image_verification") is not None:  # signature policy (kubefort.images.verification)
        from kubefort.images.verification import apply_config as apply_verification

        try:
            apply_verification(cfg.options, registry.loaded(), doc["image_verification"], path)
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    if doc.get("admission") is not None:
        from kubefort.admission.policy import PolicyError, parse_settings

        try:
            cfg.admission = parse_settings(doc["admission"], registry, f"{path}: admission")
        except PolicyError as exc:
            raise ConfigError(str(exc)) from None
    return cfg


# ---------------------------------------------------------------------------------------------
# inline exceptions: metadata.annotations["kubefort.io/ignore"]
# ---------------------------------------------------------------------------------------------
_ENTRY = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9-]*)\s*(?:\[([^\]]*)\])?\s*(?:=\s*(.*?))?\s*$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class InlineIgnore:
    check_id: str
    containers: tuple[str, ...]  # empty = all containers / the whole object
    reason: str


def parse_ignore_annotation(value: object, registry: Registry) -> tuple[list[InlineIgnore], list[str]]:
    """`KF-POD-001=reason; privileged-container[app,sidecar]=reason` -> (entries, errors)."""
    if not isinstance(value, str):
        return [], [f"{ANNOTATION} must be a string, got {type(value).__name__}"]
    entries: list[InlineIgnore] = []
    errors: list[str] = []
    for raw in re.split(r"[;\n]", value):
        if not raw.strip():
            continue
        m = _ENTRY.match(raw)
        if not m:
            errors.append(f"cannot read entry {raw.strip()!r}: expected CHECK[container,...]=reason")
            continue
        key, conts, reason = m.groups()
        if not reason:
            errors.append(f"entry {raw.strip()!r} has no reason: write {key}=<why this is acceptable>")
            continue
        try:
            cid = registry.get(key).id
        except KeyError:
            errors.append(f"entry {raw.strip()!r} names an unknown check {key!r}")
            continue
        cs = tuple(c.strip() for c in (conts or "").split(",") if c.strip())
        entries.append(InlineIgnore(cid, cs, reason))
    return entries, errors


def inline_suppression(entries: list[InlineIgnore], check_id: str, container: str | None) -> Suppression | None:
    for e in entries:
        if e.check_id == check_id and (not e.containers or (container is not None and container in e.containers)):
            return Suppression("annotation", e.reason, None, ANNOTATION)
    return None
