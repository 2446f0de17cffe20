"""CEL building blocks of the generated ValidatingAdmissionPolicies (`kubefort admission vap`).

What every policy shares: the resources it matches (every built-in kind that carries a pod
template, as `kube/pods.py` KNOWN_POD_PATHS reads them), the CEL variables that find the pod
spec, its metadata and its containers in each of those kinds, and helpers that write CEL text
(string literals, and regular expressions that reproduce Python's own string normalisation
exactly, so that a policy judges the same strings the Python check does).

The expressions use only what the API server's CEL environment offers from Kubernetes 1.30
(ValidatingAdmissionPolicy v1 is GA there; new expressions compile against the previous
release's environment, so nothing newer than 1.29's: optional types, the strings extension v2,
RE2 `matches`).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable

# (API group, version, resources, operations) the policies match: the built-in kinds whose pod
# spec kubefort reads (kube/pods.py KNOWN_POD_PATHS). `pods/ephemeralcontainers` is how ephemeral
# containers are added to a running pod (`kubectl debug`); its object is the whole Pod.
ResourceRules = tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...]
_WRITE = ("CREATE", "UPDATE")
_EPHEMERAL = ("", "v1", ("pods/ephemeralcontainers",), ("UPDATE",))
WORKLOAD_RESOURCES: ResourceRules = (
    ("", "v1", ("pods", "podtemplates", "replicationcontrollers"), _WRITE),
    _EPHEMERAL,
    ("apps", "v1", ("daemonsets", "deployments", "replicasets", "statefulsets"), _WRITE),
    ("batch", "v1", ("cronjobs", "jobs"), _WRITE),
)
# a check of how a Pod came to be (KF-WL-005, its owner): judged when it is created
POD_RESOURCES: ResourceRules = (("", "v1", ("pods",), ("CREATE",)),)

# The pod spec and its metadata in each kind; `o` is `object` or `oldObject`.
_SPEC = (
    "{o}.kind == 'Pod' ? {o}.spec : {o}.kind == 'PodTemplate' ? {o}.template.spec : "
    "{o}.kind == 'CronJob' ? {o}.spec.jobTemplate.spec.template.spec : {o}.spec.template.spec"
)
_META = (
    "{o}.kind == 'Pod' ? {o}.metadata : {o}.kind == 'PodTemplate' ? {o}.template.?metadata.orValue({{}}) : "
    "{o}.kind == 'CronJob' ? {o}.spec.jobTemplate.spec.template.?metadata.orValue({{}}) : "
    "{o}.spec.template.?metadata.orValue({{}})"
)


def pod_spec(obj: str = "object") -> str:
    """The pod spec of `obj` (a CEL expression), whichever matched kind it is."""
    return _SPEC.format(o=obj)


def pod_annotations(obj: str = "object") -> str:
    """The annotations of the pod (a Pod's own, a template's) of `obj`."""
    return f"({_META.format(o=obj)}).?annotations.orValue({{}})"


# Variables every policy may use (name -> CEL), in dependency order: a later one may read an
# earlier one. A policy declares those its expressions read (`variables_for`).
VARIABLES: dict[str, str] = {
    "spec": pod_spec(),
    "annotations": pod_annotations(),
    "podSC": "variables.spec.?securityContext.orValue({})",
    # every container kind, as PodView.containers() lists them (names are unique across kinds)
    "containers": (
        "variables.spec.containers + variables.spec.?initContainers.orValue([]) + "
        "variables.spec.?ephemeralContainers.orValue([])"
    ),
    # the containers that may set resources (ephemeral containers cannot)
    "podContainers": "variables.spec.containers + variables.spec.?initContainers.orValue([])",
    # PodView.is_windows: `spec.os.name: windows`
    "windows": "variables.spec.?os.?name.orValue('') == 'windows'",
    # PodView.in_user_namespace: `spec.hostUsers: false`
    "userns": "variables.spec.?hostUsers.orValue(true) == false",
    "hostPathVolumes": "variables.spec.?volumes.orValue([]).filter(v, has(v.hostPath)).map(v, v.name)",
}
_VAR_REF = re.compile(r"variables\.([A-Za-z_][A-Za-z0-9_]*)")


def variables_for(expressions: Iterable[str]) -> list[tuple[str, str]]:
    """The (name, expression) variables the expressions read, with what those read in turn, in
    VARIABLES order. KeyError for an unknown variable (a bug in a rule)."""
    needed: set[str] = set()
    todo = [name for text in expressions for name in _VAR_REF.findall(text)]
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(_VAR_REF.findall(VARIABLES[name]))
    return [(name, text) for name, text in VARIABLES.items() if name in needed]


# On UPDATE, only a change of the pod template is judged again (as Pod Security admission does for
# pods): an update that leaves the pod spec and its annotations alone (labels, owner references,
# finalizers, replicas) is not evaluated, so an object admitted before the policy existed can
# still be scaled, adopted, orphaned and deleted.
TEMPLATE_CHANGED = (
    "request.operation != 'UPDATE' || oldObject == null || "
    f"({pod_spec('object')}) != ({pod_spec('oldObject')}) || "
    f"{pod_annotations('object')} != {pod_annotations('oldObject')}"
)


def cel_string(text: str) -> str:
    """`text` as a CEL string literal (single-quoted; backslash, quote and line breaks escaped)."""
    escaped = (
        text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    )
    return f"'{escaped}'"


def cel_list(items: Iterable[str]) -> str:
    """A CEL list literal of strings."""
    return "[" + ", ".join(cel_string(i) for i in items) + "]"


# -------------------------------------------------------------------------------------------------
# Python's str.strip() and str.upper() as RE2 patterns (for names the checks normalise)
# -------------------------------------------------------------------------------------------------
_PLAIN = re.compile(r"[A-Za-z0-9_]")


def _re2_char(ch: str) -> str:
    """One character inside an RE2 character class: ASCII letters, digits and `_` as they are,
    every other character as `\\x{HEX}` (so whitespace and non-ASCII letters stay readable)."""
    return ch if _PLAIN.fullmatch(ch) else f"\\x{{{ord(ch):x}}}"


def _re2_class(chars: Iterable[str]) -> str:
    found = sorted(set(chars))
    return found[0] if len(found) == 1 and _PLAIN.fullmatch(found[0]) else "[" + "".join(map(_re2_char, found)) + "]"


@functools.lru_cache(maxsize=1)
def _python_tables() -> tuple[str, dict[str, tuple[str, ...]]]:
    """(every character str.strip() removes, ASCII text -> the characters whose str.upper() is that
    text). Read from this Python's own Unicode tables: `'\\u017f'.upper()` (long s) is `'S'`,
    `'\\ufb00'.upper()` (the ff ligature) is `'FF'`, `'\\x1c'.isspace()` is true."""
    spaces: list[str] = []
    upper: dict[str, list[str]] = {}
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:  # surrogates: never in a decoded JSON string the API server holds
            continue
        ch = chr(cp)
        if ch.isspace():
            spaces.append(ch)
        up = ch.upper()
        if up.isascii():
            upper.setdefault(up, []).append(ch)
    return "".join(spaces), {k: tuple(v) for k, v in upper.items()}


def _upper_preimage(text: str) -> str:
    """An RE2 pattern matching exactly the strings whose Python str.upper() is `text` (ASCII)."""
    _spaces, upper = _python_tables()

    @functools.cache
    def at(i: int) -> str:
        if i == len(text):
            return ""
        alternatives = []
        singles = upper.get(text[i], ())
        if singles:
            alternatives.append(_re2_class(singles) + at(i + 1))
        for k in range(2, len(text) - i + 1):  # characters that upper-case to several (ß -> SS)
            alternatives.extend(_re2_class((ch,)) + at(i + k) for ch in upper.get(text[i : i + k], ()))
        if not alternatives:
            raise ValueError(f"no character upper-cases to {text[i]!r}")
        return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"

    return at(0)


def normalized_name_pattern(names: Iterable[str], prefix: str) -> str:
    """An RE2 pattern (anchored) matching exactly the strings `s` for which
    `s.strip().upper().removeprefix(prefix)` is one of `names` (upper-case ASCII that do not start
    with `prefix`): how kubefort normalises capability names (`CAP_`)."""
    spaces, _upper = _python_tables()
    ws = _re2_class(spaces) + "*"
    body = "|".join(_upper_preimage(n) for n in sorted(names))
    return f"^{ws}(?:{_upper_preimage(prefix)})?(?:{body}){ws}$"


def python_pattern(re2: str) -> str:
    """An RE2 pattern of this module in Python `re` syntax (`\\x{HEX}` -> the character itself,
    escaped; `$` -> `\\Z`, since RE2's `$` is the end of the text): for tests that compare the
    pattern with the Python function it reproduces."""
    text = re.sub(r"\\x\{([0-9a-f]+)\}", lambda m: re.escape(chr(int(m.group(1), 16))), re2)
    return text[:-1] + r"\Z" if text.endswith("$") else text
