"""The fields that carry secret material, read as the API server decodes them (the KF-SEC checks).

One reader per concern, so every check that looks at a field reads it the same way:

- `bytes_map`: a `map[string][]byte` (Secret `data`, ConfigMap `binaryData`), each value decoded
  from base64 exactly as Go's `encoding/json` decodes a `[]byte` (which the API server's decoder,
  sigs.k8s.io/json, keeps): `base64.StdEncoding`, padded, line breaks ignored.
- `env_vars` / `env_from`: a container's `env` and `envFrom` entries, with the fields the
  checks read (`name`, `value`, `valueFrom.secretKeyRef`, `prefix`, `secretRef`, `configMapRef`).
- `map[string]string` fields (Secret `stringData`, ConfigMap `data`) are `Fields.str_map`.

The rule is the decoder's: an absent field and a JSON `null` are both the Go zero value (an empty
string, map or byte slice; a nil pointer for `valueFrom`, `secretKeyRef`, `secretRef`), so a null
value in a map is the empty value with its key present. A value of another JSON type (a list where
a mapping is declared, a number where a string is, a string where an object is), or a `[]byte`
value that is not valid base64, cannot be decoded: the API server rejects the object, so the
reader raises `NotEvaluated` naming the field, and no check judges it as if the field were absent.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from kubefort.kube.pods import ContainerView, Fields, memoised, need, optional
from kubefort.model import NotEvaluated, Path_, format_path


# ---------------------------------------------------------------------------------------------
# map[string][]byte
# ---------------------------------------------------------------------------------------------
def decode_bytes(value: str) -> bytes | None:
    """`value` decoded as Go's encoding/json decodes a JSON string into `[]byte`, None when it cannot.

    encoding/json calls `base64.StdEncoding.Decode`: the standard alphabet (`+`, `/`), `=` padding
    required (so the length is a multiple of 4) and nothing after it; `\\r` and `\\n` are skipped
    anywhere, any other character (a space, a tab, the URL-safe `-` and `_`) is an error. Python's
    `b64decode(validate=True)` checks the alphabet and where `=` may stand, but also accepts a
    whole quartet followed by padding (`Qgz0=`): the length test rules that out."""
    compact = value.replace("\r", "").replace("\n", "")
    if len(compact) % 4:
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def bytes_map(fields: Fields, key: str) -> dict[str, bytes]:
    """The `map[string][]byte` at `key` (Secret `data`, ConfigMap `binaryData`), values decoded.

    Absent or null is empty and a null value is empty bytes (the key is present); NotEvaluated for
    a non-mapping, a value that is not a string, or a string that is not valid base64."""
    out: dict[str, bytes] = {}
    for k, v in fields.mapping(key).items():
        if v is None:
            out[str(k)] = b""
            continue
        path = fields.at(key, str(k))
        decoded = decode_bytes(need(v, str, "a base64 string", path))
        if decoded is None:
            raise NotEvaluated(
                f"{format_path(path)} is not valid base64 (the standard alphabet with '=' padding; only line "
                "breaks may come between the characters); the API server rejects it",
                path,
            )
        out[str(k)] = decoded
    return out


# ---------------------------------------------------------------------------------------------
# a container's env and envFrom
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SecretKeyRef:
    """`env[].valueFrom.secretKeyRef`: one key of a Secret ("" where a field is unset)."""

    name: str
    key: str


@dataclass(frozen=True, slots=True)
class EnvVar:
    """One `env` entry: `name` and `value` are "" when unset (absent or null)."""

    index: int
    path: Path_
    name: str
    value: str
    secret_key_ref: SecretKeyRef | None

    def label(self) -> str:
        """The variable's name, or `#<index>` for an entry without one (which the API server rejects)."""
        return self.name or f"#{self.index}"


@dataclass(frozen=True, slots=True)
class EnvFrom:
    """One `envFrom` entry: `secret_ref` is the name of the Secret it imports ("" when unnamed),
    None when the entry has no `secretRef`."""

    index: int
    path: Path_
    prefix: str
    secret_ref: str | None


def _object(fields: Fields, *keys: str) -> Fields | None:
    """The optional object (a Go pointer to a struct) at keys: None when absent or null."""
    path = fields.at(*keys)
    found: dict[str, Any] | None = optional(fields.get(*keys), dict, "a mapping", path)
    return None if found is None else Fields(found, path)


def _entry(c: ContainerView, field: str, i: int, item: object) -> Fields:
    path = c.at(field, i)
    return Fields(need(item, dict, "a mapping", path), path)


def _decode_env_entry(c: ContainerView, i: int, item: object) -> EnvVar:
    """One `env` entry, every field checked through `Fields` (NotEvaluated for a wrong type)."""
    var = _entry(c, "env", i, item)
    name, value = var.str("name") or "", var.str("value") or ""
    # Fields.get refuses a valueFrom that is not a mapping, and reads a null one as absent
    found = _object(var, "valueFrom", "secretKeyRef")
    ref = None if found is None else SecretKeyRef(found.str("name") or "", found.str("key") or "")
    return EnvVar(i, var.path, name, value, ref)


def _decode_env(c: ContainerView) -> tuple[EnvVar, ...]:
    """`_decode_env_entry` for each entry, with the common shape (a mapping whose name, value
    and valueFrom.secretKeyRef fields are absent, null or of their type) read inline; anything
    else takes the checked path, so both give the same EnvVar or the same NotEvaluated
    (tests/test_secretfields.py compares them on generated entries)."""
    out: list[EnvVar] = []
    base = c.path
    for i, item in enumerate(c.list("env")):
        if type(item) is dict:
            name = item.get("name")
            value = item.get("value")
            vf = item.get("valueFrom")
            if (name is None or type(name) is str) and (value is None or type(value) is str):
                ref = None if type(vf) is not dict else vf.get("secretKeyRef")
                if vf is None or (type(vf) is dict and ref is None):
                    out.append(EnvVar(i, (*base, "env", i), name or "", value or "", None))
                    continue
                if type(ref) is dict:
                    rn, rk = ref.get("name"), ref.get("key")
                    if (rn is None or type(rn) is str) and (rk is None or type(rk) is str):
                        sref = SecretKeyRef(rn or "", rk or "")
                        out.append(EnvVar(i, (*base, "env", i), name or "", value or "", sref))
                        continue
        out.append(_decode_env_entry(c, i, item))
    return tuple(out)


def env_vars(c: ContainerView) -> tuple[EnvVar, ...]:
    """The container's `env` entries, decoded once per container (NotEvaluated for a wrong type)."""
    return memoised(c.memo, "secretfields.env", _decode_env, c)


def _decode_env_from(c: ContainerView) -> tuple[EnvFrom, ...]:
    out: list[EnvFrom] = []
    for i, item in enumerate(c.list("envFrom")):
        entry = _entry(c, "envFrom", i, item)
        prefix = entry.str("prefix") or ""
        _object(entry, "configMapRef")  # a wrong type makes the entry undecodable, whatever it imports
        secret = _object(entry, "secretRef")
        out.append(EnvFrom(i, entry.path, prefix, None if secret is None else secret.str("name") or ""))
    return tuple(out)


def env_from(c: ContainerView) -> tuple[EnvFrom, ...]:
    """The container's `envFrom` entries, decoded once per container (NotEvaluated for a wrong type)."""
    return memoised(c.memo, "secretfields.envFrom", _decode_env_from, c)
