"""The fields KF-SEC-001..004 read, decoded as the API server decodes them (kubefort.kube.secretfields).

For every field a KF-SEC check reads (Secret `data`/`stringData`, ConfigMap `data`/`binaryData`,
`env[].name`/`value`/`valueFrom.secretKeyRef`, `envFrom[].prefix`/`secretRef`/`configMapRef`),
and for any JSON value put there:

* null is the zero value: the outcome is the one of the field left out (a struct field) or of
  the empty value with its key present (a map value);
* a value of the declared type is judged (passed or failed, never not evaluated);
* any other value (and, for a `[]byte` map, a string that is not base64) cannot be decoded and
  the API server rejects the object: the check reports not evaluated, at that field's path.

`decode_bytes` is Go's `encoding/json` decoding of `[]byte` (`base64.StdEncoding`); the table
below was checked against Go 1.x's `json.Unmarshal` into `map[string][]byte` (as were 90,000
random strings over the base64 alphabet, `=`, `\\r`, `\\n`, blanks, `-` and `_`).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubefort.engine import Engine, EngineSettings
from kubefort.kube.secretfields import decode_bytes
from kubefort.model import Outcome, Path_, format_path
from kubefort.registry import REGISTRY

ENGINE = Engine(
    EngineSettings(check_ids=("KF-SEC-001", "KF-SEC-002", "KF-SEC-003", "KF-SEC-004"), keep_passed=True), REGISTRY
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)
GH_TOKEN = "ghp_L7DxtpYlSXpfKtHF4vUCsMehGAkWvj7FAc9Q"  # a credential by its value, whatever the name
PEM = b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDfixture\n-----END PRIVATE KEY-----\n"
B64 = st.binary(max_size=24).map(lambda b: base64.b64encode(b).decode())


def _b64_ok(v: object) -> bool:
    return isinstance(v, str) and decode_bytes(v) is not None


def _is_str(v: object) -> bool:
    return isinstance(v, str)


def _never(v: object) -> bool:
    return False  # an object-typed field: only null (or a mapping, not drawn here) decodes


def _pod(container: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [container]}}


def _c(*path: str | int) -> Path_:
    return ("spec", "containers", 0, *path)


SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
CONFIGMAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
KEY_REF = {"name": "db", "key": "password"}

# (check, object, path of the field, is the field a map value?, which non-null values decode)
FIELDS: list[tuple[str, dict[str, Any], Path_, bool, Callable[[object], bool]]] = [
    ("KF-SEC-001", {**SECRET, "data": {"k": "aGk="}}, ("data", "k"), True, _b64_ok),
    ("KF-SEC-001", {**SECRET, "data": {"k": "aGk="}}, ("data",), False, _never),
    ("KF-SEC-001", {**SECRET, "stringData": {"k": "x"}}, ("stringData", "k"), True, _is_str),
    ("KF-SEC-001", {**SECRET, "stringData": {"k": "x"}}, ("stringData",), False, _never),
    ("KF-SEC-004", {**CONFIGMAP, "data": {"k": "x"}}, ("data", "k"), True, _is_str),
    ("KF-SEC-004", {**CONFIGMAP, "data": {"k": "x"}}, ("data",), False, _never),
    ("KF-SEC-004", {**CONFIGMAP, "binaryData": {"k": "aGk="}}, ("binaryData", "k"), True, _b64_ok),
    ("KF-SEC-004", {**CONFIGMAP, "binaryData": {"k": "aGk="}}, ("binaryData",), False, _never),
    (
        "KF-SEC-002",
        _pod({"name": "c", "env": [{"name": "A", "value": GH_TOKEN}]}),
        _c("env", 0, "name"),
        False,
        _is_str,
    ),
    (
        "KF-SEC-002",
        _pod({"name": "c", "env": [{"name": "A", "value": GH_TOKEN}]}),
        _c("env", 0, "value"),
        False,
        _is_str,
    ),
    (
        "KF-SEC-002",
        _pod({"name": "c", "env": [{"name": "A", "value": GH_TOKEN, "valueFrom": None}]}),
        _c("env", 0, "valueFrom"),
        False,
        _never,
    ),
    (
        "KF-SEC-002",
        _pod({"name": "c", "env": [{"name": "A", "value": GH_TOKEN, "valueFrom": {"secretKeyRef": None}}]}),
        _c("env", 0, "valueFrom", "secretKeyRef"),
        False,
        _never,
    ),
    (
        "KF-SEC-003",
        _pod({"name": "c", "env": [{"name": "A", "valueFrom": {"secretKeyRef": KEY_REF}}]}),
        _c("env", 0, "name"),
        False,
        _is_str,
    ),
    (
        "KF-SEC-003",
        _pod({"name": "c", "env": [{"name": "A", "valueFrom": {"secretKeyRef": KEY_REF}}]}),
        _c("env", 0, "value"),
        False,
        _is_str,
    ),
    (
        "KF-SEC-003",
        _pod({"name": "c", "env": [{"name": "A", "valueFrom": {"secretKeyRef": None}}]}),
        _c("env", 0, "valueFrom"),
        False,
        _never,
    ),
    (
        "KF-SEC-003",
        _pod({"name": "c", "env": [{"name": "A", "valueFrom": {"secretKeyRef": KEY_REF}}]}),
        _c("env", 0, "valueFrom", "secretKeyRef"),
        False,
        _never,
    ),
    (
        "KF-SEC-003",
        _pod({"name": "c", "env": [{"name": "A", "valueFrom": {"secretKeyRef": KEY_REF}}]}),
        _c("env", 0, "valueFrom", "secretKeyRef", "name"),
        False,
        _is_str,
    ),
    (
        "KF-SEC-003",
        _pod({"name": "c", "env": [{"name": "A", "valueFrom": {"secretKeyRef": KEY_REF}}]}),
        _c("env", 0, "valueFrom", "secretKeyRef", "key"),
        False,
        _is_str,
    ),
    (
        "KF-SEC-003",
        _pod({"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}),
        _c("envFrom", 0, "secretRef"),
        False,
        _never,
    ),
    (
        "KF-SEC-003",
        _pod({"name": "c", "envFrom": [{"secretRef": {"name": "s"}}]}),
        _c("envFrom", 0, "secretRef", "name"),
        False,
        _is_str,
    ),
    (
        "KF-SEC-003",
        _pod({"name": "c", "envFrom": [{"secretRef": {"name": "s"}, "prefix": "P_"}]}),
        _c("envFrom", 0, "prefix"),
        False,
        _is_str,
    ),
    (
        "KF-SEC-003",
        _pod({"name": "c", "envFrom": [{"secretRef": {"name": "s"}, "configMapRef": None}]}),
        _c("envFrom", 0, "configMapRef"),
        False,
        _never,
    ),
]


def _outcome(check_id: str, obj: dict[str, Any]) -> Outcome:
    (o,) = [o for o in ENGINE.check_object(obj) if o.check_id == check_id]
    return o


def _set(obj: dict[str, Any], path: Path_, value: object) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    cur: Any = out
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return out


def _delete(obj: dict[str, Any], path: Path_) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    cur: Any = out
    for k in path[:-1]:
        cur = cur[k]
    cur.pop(path[-1], None)
    return out


def _value(path: Path_, decodes: Callable[[object], bool]) -> st.SearchStrategy[object]:
    """Any JSON value; strings of both kinds for a []byte map; no mapping where an object is declared
    (whether a mapping decodes depends on what is inside it)."""
    if decodes is _never:
        return JSON.filter(lambda v: not isinstance(v, dict))
    if decodes is _b64_ok:
        return st.one_of(JSON, B64, B64.map(lambda s: "\n".join(s[i : i + 4] for i in range(0, len(s), 4))))
    return JSON


@pytest.mark.parametrize(
    ("check_id", "obj", "path", "in_map", "decodes"), FIELDS, ids=[f"{f[0]}:{format_path(f[2])}" for f in FIELDS]
)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_value_at_a_secret_field_is_decoded_as_the_api_server_does(
    check_id: str,
    obj: dict[str, Any],
    path: Path_,
    in_map: bool,
    decodes: Callable[[object], bool],
    data: st.DataObject,
) -> None:
    value = data.draw(_value(path, decodes), label="value")
    got = _outcome(check_id, _set(obj, path, value))
    if value is None:
        zero = _set(obj, path, "") if in_map else _delete(obj, path)
        assert got.status == _outcome(check_id, zero).status  # null is the zero value
    elif decodes(value):
        assert got.status.value in ("passed", "failed"), got.message
    else:
        assert (got.status.value, got.path) == ("not-evaluated", path), got.message
        assert got.message.startswith(f"{format_path(path)} is "), got.message


@given(name=st.text(max_size=12) | st.none())
def test_a_token_in_env_is_found_whatever_the_name(name: str | None) -> None:
    """Every string name (and a null one, which is no name) is judged: the token is the finding."""
    got = _outcome("KF-SEC-002", _pod({"name": "c", "env": [{"name": name, "value": GH_TOKEN}]}))
    assert got.status.value == "failed"
    assert got.message == f"container 'c': env {name or '#0'} holds a GitHub token (ghp_…(40 chars))"


@given(name=JSON.filter(lambda v: v is not None and not isinstance(v, str)))
def test_an_env_name_of_another_type_is_not_evaluated(name: object) -> None:
    for check_id, entry in (
        ("KF-SEC-002", {"name": name, "value": GH_TOKEN}),
        ("KF-SEC-003", {"name": name, "valueFrom": {"secretKeyRef": KEY_REF}}),
    ):
        got = _outcome(check_id, _pod({"name": "c", "env": [entry]}))
        assert (got.status.value, got.path) == ("not-evaluated", _c("env", 0, "name"))


@given(raw=st.binary(max_size=48))
def test_secret_data_is_judged_by_its_decoded_bytes(raw: bytes) -> None:
    """A data value counts when it decodes to bytes; "" (or only line breaks) is no value."""
    encoded = base64.encodebytes(raw).decode()  # wrapped at 76 characters, with a final line break
    got = _outcome("KF-SEC-001", {**SECRET, "data": {"k": encoded}})
    assert got.status.value == ("failed" if raw else "passed")


@given(raw=st.binary(max_size=32), prefix=st.binary(max_size=8))
def test_a_private_key_in_binary_data_is_found_however_the_base64_is_wrapped(raw: bytes, prefix: bytes) -> None:
    blob = base64.b64encode(prefix + PEM + raw).decode()
    for encoded in (blob, "\n".join(blob[i : i + 60] for i in range(0, len(blob), 60)), blob + "\r\n"):
        got = _outcome("KF-SEC-004", {**CONFIGMAP, "binaryData": {"client.key": encoded}})
        assert got.status.value == "failed"
        assert (
            got.message
            == "ConfigMap binaryData key 'client.key' holds a private key (PEM) (-----BEGIN PRIVATE KEY----- …)"
        )


# ---------------------------------------------------------------------------------------------
# decode_bytes: Go's encoding/json for []byte
# ---------------------------------------------------------------------------------------------
@given(
    raw=st.binary(max_size=64), breaks=st.lists(st.tuples(st.integers(0, 200), st.sampled_from(["\n", "\r", "\r\n"])))
)
def test_base64_with_line_breaks_anywhere_decodes(raw: bytes, breaks: list[tuple[int, str]]) -> None:
    text = base64.b64encode(raw).decode()
    for at, br in breaks:
        at %= len(text) + 1
        text = text[:at] + br + text[at:]
    assert decode_bytes(text) == raw


@given(
    raw=st.binary(min_size=1, max_size=32),
    at=st.integers(0, 64),
    bad=st.sampled_from([" ", "\t", "-", "_", ".", "é", "\x00"]),
)
def test_a_character_outside_the_alphabet_is_refused(raw: bytes, at: int, bad: str) -> None:
    text = base64.b64encode(raw).decode()
    at %= len(text) + 1
    assert decode_bytes(text[:at] + bad + text[at:]) is None


@given(raw=st.binary(min_size=1, max_size=32))
def test_unpadded_or_overpadded_base64_is_refused(raw: bytes) -> None:
    text = base64.b64encode(raw).decode()
    padded = text.endswith("=")
    assert decode_bytes(text.rstrip("=")) == (None if padded else raw)
    assert decode_bytes(text + "=") is None
    assert decode_bytes(text + text) == (None if padded else raw + raw)  # nothing may follow the padding


@pytest.mark.parametrize(
    ("text", "go"),
    [
        ("", b""),
        ("\n", b""),
        ("YQ==", b"a"),
        ("YR==", b"a"),  # StdEncoding is not Strict: non-zero padding bits are accepted
        ("YWJj", b"abc"),
        ("\nY\rQ=\n=", b"a"),
        ("YQ", None),
        ("YQ=", None),
        ("Qgz0=", None),  # a full quartet then padding: Python's b64decode alone would accept it
        ("Q0Q/==", None),
        ("YQ==YQ==", None),
        ("Y===", None),
        ("====", None),
        ("=", None),
        ("YW Jj", None),
        ("YWJj\t", None),
        ("YW-_", None),  # the URL-safe alphabet is another encoding
    ],
)
def test_decode_bytes_agrees_with_go(text: str, go: bytes | None) -> None:
    assert decode_bytes(text) == go


_ENV_LEAF = st.none() | st.text(max_size=6) | st.integers() | st.booleans() | st.lists(st.none(), max_size=1)
_ENV_ENTRY = st.one_of(
    _ENV_LEAF,
    st.fixed_dictionaries(
        {},
        optional={
            "name": _ENV_LEAF,
            "value": _ENV_LEAF,
            "valueFrom": _ENV_LEAF
            | st.fixed_dictionaries(
                {},
                optional={
                    "secretKeyRef": _ENV_LEAF
                    | st.fixed_dictionaries({}, optional={"name": _ENV_LEAF, "key": _ENV_LEAF, "optional": _ENV_LEAF}),
                    "configMapKeyRef": _ENV_LEAF,
                },
            ),
        },
    ),
)


@settings(max_examples=400)
@given(env=st.lists(_ENV_ENTRY, max_size=4))
def test_env_entries_read_inline_decode_as_the_checked_path_does(env: list[object]) -> None:
    """`env_vars` reads the common shape of an entry inline: for any entries, it gives what
    decoding every entry through `Fields` gives (the same EnvVars, or the same NotEvaluated)."""
    from kubefort.kube.pods import find_pods
    from kubefort.kube.secretfields import _decode_env_entry, env_vars
    from kubefort.loaders.manifests import LoadedInput, add_object
    from kubefort.model import InputRecord, NotEvaluated, Source

    li = LoadedInput(InputRecord("-", "object"))
    add_object(li, _pod({"name": "app", "image": "nginx:1.27", "env": env}), Source("-"), "-")
    c = next(iter(find_pods(li.resources[0], {})[0].containers()))

    def outcome(f: Callable[[], object]) -> object:
        try:
            return f()
        except NotEvaluated as exc:
            return ("not-evaluated", exc.reason, exc.path)

    assert outcome(lambda: env_vars(c)) == outcome(
        lambda: tuple(_decode_env_entry(c, i, item) for i, item in enumerate(env))
    )
