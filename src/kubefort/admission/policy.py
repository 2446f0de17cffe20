"""Which admission mode a failed check gets: enforce (deny), warn (kubectl shows it) or audit
(recorded in the API server's audit log), as Pod Security Admission does with its three modes.

Each mode has a level: the lowest severity it acts on, or `off`. A failed check reaches every
mode whose level its severity meets: with `enforce: high, warn: medium, audit: low`, a critical
failure is denied, warned and audited, a medium one warned and audited, a low one audited. The
levels come from, most specific first:

1. the namespace's labels `kubefort.io/enforce`, `kubefort.io/warn`, `kubefort.io/audit`
   (values: critical, high, medium, low, info, off), mirroring PSA's
   `pod-security.kubernetes.io/<mode>` labels;
2. `.kubefort.yaml` `admission.namespaces.<name>`;
3. the defaults: `serve --enforce/--warn/--audit`, else `admission.enforce/warn/audit`, else
   DEFAULT_LEVELS.

Cluster-scoped objects (no namespace) get the defaults (3).

A check named in `admission.checks` ignores severity: `enforce` reaches every mode that is on in
the namespace, `warn` reaches warn and audit, `audit` only audit, `off` none (the check is not
reported at admission). So a namespace rolling out in warn mode (`enforce: off`) warns even for
the checks forced to `enforce`.

A check that could not be evaluated (a field of the wrong type) is never denied: it is warned and
audited at its severity, with the reason.

An invalid label value (`kubefort.io/enforce: hihg`) does what PSA does with an invalid level:
that mode acts at its strictest (`info`), and every answer in the namespace says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from kubefort.model import Severity
from kubefort.registry import Registry

Mode = Literal["enforce", "warn", "audit"]
MODES: tuple[Mode, ...] = ("enforce", "warn", "audit")
LABEL_PREFIX = "kubefort.io/"
OFF = "off"
Level = Severity | None  # None: the mode is off
# the strongest mode first: a check forced to a mode reaches it and every weaker one
_RANK: dict[Mode, int] = {"enforce": 2, "warn": 1, "audit": 0}


class PolicyError(ValueError):
    """An invalid admission setting (a usage error)."""


@dataclass(frozen=True, slots=True)
class Levels:
    """The lowest severity each mode acts on (None: off)."""

    enforce: Level
    warn: Level
    audit: Level

    def of(self, mode: Mode) -> Level:
        level: Level = getattr(self, mode)
        return level

    def describe(self) -> str:
        return ", ".join(f"{m} {level_name(self.of(m))}" for m in MODES)


DEFAULT_LEVELS = Levels(enforce=Severity.HIGH, warn=Severity.MEDIUM, audit=Severity.LOW)


def override(levels: Levels, changes: Mapping[Mode, Level]) -> Levels:
    """`levels` with the modes named in `changes` set to their new level."""
    return Levels(
        changes.get("enforce", levels.enforce), changes.get("warn", levels.warn), changes.get("audit", levels.audit)
    )


def level_name(level: Level) -> str:
    return OFF if level is None else level.label


def parse_level(text: object) -> Level:
    """`high` -> Severity.HIGH, `off` -> None; anything else raises PolicyError. An unquoted
    `off` in `.kubefort.yaml` is YAML 1.1's false (as the API server reads YAML): taken as off."""
    if text is False:
        return None
    if not isinstance(text, str):
        raise PolicyError(f"expected a severity or 'off', got {text!r}")
    if text.strip().lower() == OFF:
        return None
    try:
        return Severity.parse(text)
    except ValueError:
        choices = ", ".join([*(s.label for s in sorted(Severity, reverse=True)), OFF])
        raise PolicyError(f"{text!r} is not a level (choose one of: {choices})") from None


def parse_mode(text: object) -> Mode | None:
    """`enforce` / `warn` / `audit`, or `off` (None; also YAML 1.1's false, an unquoted off)."""
    if text is False:
        return None
    if isinstance(text, str):
        t = text.strip().lower()
        if t == OFF:
            return None
        for m in MODES:
            if t == m:
                return m
    raise PolicyError(f"expected one of enforce, warn, audit, off, got {text!r}")


@dataclass(frozen=True, slots=True)
class AdmissionSettings:
    """`.kubefort.yaml` `admission:`, validated."""

    levels: Levels = DEFAULT_LEVELS
    # check ID -> the mode its failures get whatever their severity (None: not reported)
    checks: Mapping[str, Mode | None] = field(default_factory=dict)
    # namespace -> the levels set for it (labels on the namespace override them)
    namespaces: Mapping[str, Mapping[Mode, Level]] = field(default_factory=dict)

    def with_defaults(self, overrides: Mapping[Mode, Level]) -> AdmissionSettings:
        """These settings with some default levels replaced (the serve command's flags)."""
        return replace(self, levels=override(self.levels, overrides))


_KEYS = {"enforce", "warn", "audit", "checks", "namespaces"}


def _levels_map(raw: object, where: str) -> dict[Mode, Level]:
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping of mode (enforce, warn, audit) -> level")
    unknown = sorted(str(k) for k in raw if k not in MODES)
    if unknown:
        raise PolicyError(f"{where}: unknown mode {', '.join(unknown)} (allowed: enforce, warn, audit)")
    out: dict[Mode, Level] = {}
    for m in MODES:
        if m in raw:
            try:
                out[m] = parse_level(raw[m])
            except PolicyError as exc:
                raise PolicyError(f"{where}.{m}: {exc}") from None
    return out


def parse_settings(raw: object, registry: Registry, where: str = "admission") -> AdmissionSettings:
    """The `admission:` section of `.kubefort.yaml` (None or absent: the defaults)."""
    if raw is None:
        return AdmissionSettings()
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    unknown = sorted(str(k) for k in raw if k not in _KEYS)
    if unknown:
        raise PolicyError(f"{where}: unknown key {', '.join(unknown)} (allowed: {', '.join(sorted(_KEYS))})")
    levels = override(DEFAULT_LEVELS, _levels_map({m: raw[m] for m in MODES if m in raw}, where))
    checks: dict[str, Mode | None] = {}
    raw_checks = raw.get("checks") or {}
    if not isinstance(raw_checks, dict):
        raise PolicyError(f"{where}.checks: expected a mapping of check (ID, name or prefix) -> mode")
    for key, value in raw_checks.items():
        try:
            metas = registry.select([str(key)])
        except KeyError as exc:
            raise PolicyError(f"{where}.checks: {exc.args[0]}") from None
        try:
            mode = parse_mode(value)
        except PolicyError as exc:
            raise PolicyError(f"{where}.checks.{key}: {exc}") from None
        for m in metas:
            checks[m.id] = mode
    namespaces: dict[str, Mapping[Mode, Level]] = {}
    raw_ns = raw.get("namespaces") or {}
    if not isinstance(raw_ns, dict):
        raise PolicyError(f"{where}.namespaces: expected a mapping of namespace -> levels")
    for ns, value in raw_ns.items():
        namespaces[str(ns)] = _levels_map(value, f"{where}.namespaces.{ns}")
    return AdmissionSettings(levels, checks, namespaces)


def label_levels(labels: Mapping[str, str]) -> tuple[dict[Mode, Level], list[str]]:
    """The levels a namespace's `kubefort.io/<mode>` labels set, and a problem for each invalid
    one (that mode then acts at `info`, its strictest, as PSA does with an invalid level)."""
    out: dict[Mode, Level] = {}
    problems: list[str] = []
    for m in MODES:
        value = labels.get(LABEL_PREFIX + m)
        if value is None:
            continue
        try:
            out[m] = parse_level(value)
        except PolicyError as exc:
            out[m] = Severity.INFO
            problems.append(f"namespace label {LABEL_PREFIX}{m}: {exc}; {m} acts at info (its strictest) until fixed")
    return out, problems


def levels_for(
    settings: AdmissionSettings, namespace: str | None, labels: Mapping[str, str] | None
) -> tuple[Levels, list[str]]:
    """The levels in force for an object in `namespace` (None: cluster-scoped), whose labels are
    `labels` (None: unknown), and the problems found in those labels."""
    if namespace is None:
        return settings.levels, []
    levels = settings.levels
    configured = settings.namespaces.get(namespace)
    if configured:
        levels = override(levels, configured)
    if not labels:
        return levels, []
    from_labels, problems = label_levels(labels)
    return override(levels, from_labels), problems


def modes_for(levels: Levels, severity: Severity, forced: Mode | Literal[False] | None, evaluated: bool) -> list[Mode]:
    """The modes a finding reaches, strongest first. `forced`: the mode `admission.checks` sets
    for its check (None: off), or False when it sets none. A finding that was not evaluated is
    never enforced."""
    if forced is None:
        return []
    out: list[Mode] = []
    for m in MODES:
        level = levels.of(m)
        if level is None or (m == "enforce" and not evaluated):
            continue
        if forced is False:
            if severity >= level:
                out.append(m)
        elif _RANK[m] <= _RANK[forced]:
            out.append(m)
    return out
