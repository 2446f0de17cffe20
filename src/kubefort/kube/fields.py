"""Typed access to decoded objects as the API server decodes them (`Fields`), and the memo
machinery for what checks derive from one view (`memoised`, `memoised_iter`).

An accessor returns a value of the type the API declares (absent and null are the zero value),
or raises NotEvaluated naming the field and what was found instead, so checks never guess. The
pod and container views of `kubefort.kube.pods` are `Fields`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn, TypeVar

from kubefort.model import NotEvaluated, Path_, format_path

T = TypeVar("T")


def type_name(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    return type(v).__name__


def _expect(value: object, kind: type[T], what: str, path: Path_) -> T:
    """value, typed as `kind`, if it is one (bools are not ints), else NotEvaluated naming the field."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise NotEvaluated(f"{format_path(path)} is {type_name(value)}, expected {what}", path)
    return value


def need(value: object, kind: type[T], what: str, path: Path_) -> T:
    """value if it has the type the API declares, else NotEvaluated naming the field (bools are not
    ints; whole floats are ints, as JSON decoding gives them)."""
    if type(value) is kind:  # the common case (a bool's type is bool, never int)
        return value
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    return _expect(value, kind, what, path)


def optional(value: object, kind: type[T], what: str, path: Path_) -> T | None:
    """None when absent, else as `need`."""
    return None if value is None else need(value, kind, what, path)


class _Raised:
    """A memoised NotEvaluated: raised again (as a new exception) on every later call."""

    __slots__ = ("path", "reason")

    def __init__(self, exc: NotEvaluated) -> None:
        self.reason = exc.reason
        self.path = exc.path

    def throw(self) -> NoReturn:
        raise NotEvaluated(self.reason, self.path)


def memoised(memo: dict[Any, Any], key: object, compute: Callable[..., T], *args: Any) -> T:
    """`compute(*args)`, once per `memo` and key: later calls return the same value, or raise the
    same NotEvaluated again. `memo` is a view's own dict (`Fields.memo`, `PodView.memo`), so nothing
    is ever shared between objects; checks use it for what several of them derive from one pod or
    container (a parsed image reference, an effective securityContext value ...)."""
    hit = memo.get(key, _ABSENT)
    if hit is _ABSENT:
        try:
            hit = memo[key] = compute(*args)
        except NotEvaluated as exc:
            memo[key] = _Raised(exc)
            raise
        return hit
    if type(hit) is _Raised:
        hit.throw()
    return hit  # type: ignore[no-any-return]


def memoised_iter(memo: dict[Any, Any], key: object, produce: Callable[..., Iterator[T]], *args: Any) -> Iterator[T]:
    """The items of `produce(*args)`, walked once per `memo` and key: later calls replay them, and
    raise the walk's NotEvaluated again after the items it had yielded, exactly as a fresh walk would.

    The walk runs on the first call (it only reads the object; its NotEvaluated is kept, not
    raised), so a walk that ended well replays as a plain iterator over its items."""
    found: tuple[builtins.list[T], _Raised | None] | None = memo.get(key)
    if found is None:
        items: builtins.list[T] = []
        error: _Raised | None = None
        try:
            for item in produce(*args):
                items.append(item)  # noqa: PERF402 - keeps what was produced before a NotEvaluated
        except NotEvaluated as exc:
            error = _Raised(exc)
        found = memo[key] = (items, error)
    if found[1] is None:
        return iter(found[0])
    return _replay(found[0], found[1])


def _replay(items: builtins.list[T], error: _Raised) -> Iterator[T]:
    yield from items
    error.throw()


_ABSENT: Any = object()
# what an absent step of a path reads as (`Fields` accessors): an empty mapping, never changed
_STEP: dict[str, Any] = {}


class Fields:
    """Typed access to a mapping at a known path."""

    # The accessors below are named after the types they return (`bool`, `int`, `str`, `list`),
    # which shadows those names inside this class body: annotations spell them `builtins.*`.
    #
    # They run ~150 times per object, so each is written for the common case (every step a
    # dict, the value of the declared type or absent): no path is built and no helper is called
    # unless the value is mistyped. `memo` holds what checks derive from this view (see `memoised`).
    __slots__ = ("data", "memo", "path")

    def __init__(self, data: Mapping[builtins.str, Any], path: Path_) -> None:
        self.data = data
        self.path = path
        self.memo: dict[Any, Any] = {}

    def at(self, *keys: builtins.str | builtins.int) -> Path_:
        return self.path + keys

    # Each accessor walks the keys inline (no helper call on the hot path): `get(k, _STEP)`
    # reads an absent step as an empty mapping, so only a null step or one of another type
    # (a string, a list, a number) raises AttributeError, and `_get_checked` decides it.
    def get(self, *keys: builtins.str) -> Any:
        """The raw value at keys (None when any step is absent or null); wrong container types raise.

        Typed `Any` on purpose: callers narrow it themselves (or use the typed accessors below)."""
        v: Any = self.data
        try:
            for k in keys:
                v = v.get(k, _STEP)
        except AttributeError:
            return self._get_checked(keys)
        return None if v is _STEP else v

    def _get_checked(self, keys: tuple[builtins.str, ...]) -> Any:
        """The accessors' walk step by step: None at the first step that is absent or null,
        NotEvaluated at the first that is neither a mapping nor absent."""
        cur: Any = self.data
        for i, k in enumerate(keys):
            if cur is None:
                return None
            if not isinstance(cur, dict):
                raise NotEvaluated(
                    f"{format_path(self.path + keys[:i])} is {type_name(cur)}, expected a mapping", self.path + keys[:i]
                )
            cur = cur.get(k)
        return cur

    def mapping(self, *keys: builtins.str) -> dict[builtins.str, Any]:
        v: Any = self.data
        try:
            for k in keys:
                v = v.get(k, _STEP)
        except AttributeError:
            v = self._get_checked(keys)
        if v is _STEP or v is None:
            return {}
        if type(v) is dict:
            return v
        return _expect(v, dict, "a mapping", self.path + keys)

    def bool(self, *keys: builtins.str) -> builtins.bool | None:
        v: Any = self.data
        try:
            for k in keys:
                v = v.get(k, _STEP)
        except AttributeError:
            v = self._get_checked(keys)
        if v is True or v is False:
            return v
        if v is _STEP or v is None:
            return None
        raise NotEvaluated(
            f"{format_path(self.at(*keys))} is {type_name(v)} ({v!r}), expected a boolean; the API server rejects it",
            self.at(*keys),
        )

    def int(self, *keys: builtins.str) -> builtins.int | None:
        v: Any = self.data
        try:
            for k in keys:
                v = v.get(k, _STEP)
        except AttributeError:
            v = self._get_checked(keys)
        if type(v) is int:
            return v
        if v is _STEP or v is None:
            return None
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return _expect(v, int, "an integer", self.path + keys)

    def str(self, *keys: builtins.str) -> builtins.str | None:
        v: Any = self.data
        try:
            for k in keys:
                v = v.get(k, _STEP)
        except AttributeError:
            v = self._get_checked(keys)
        if type(v) is str:
            return v
        if v is _STEP or v is None:
            return None
        return _expect(v, str, "a string", self.path + keys)

    def list(self, *keys: builtins.str) -> builtins.list[Any]:
        v: Any = self.data
        try:
            for k in keys:
                v = v.get(k, _STEP)
        except AttributeError:
            v = self._get_checked(keys)
        if type(v) is list:
            return v
        if v is _STEP or v is None:
            return []
        return _expect(v, list, "a list", self.path + keys)

    def str_map(self, *keys: builtins.str) -> dict[builtins.str, builtins.str]:
        """A map[string]string (labels, annotations, selectors, nodeSelector) as the API server decodes
        it: absent or null is empty, a null value is "" (the key is present); NotEvaluated for any
        other value, which the API server rejects."""
        out: dict[builtins.str, builtins.str] = {}
        for k, v in self.mapping(*keys).items():
            if v is not None and type(v) is not str:
                p = self.at(*keys, builtins.str(k))
                raise NotEvaluated(f"{format_path(p)} is {type_name(v)}, expected a string", p)
            out[builtins.str(k)] = v or ""
        return out

    def str_list(self, *keys: builtins.str) -> builtins.list[builtins.str]:
        v: Any = self.data
        try:
            for k in keys:
                v = v.get(k, _STEP)
        except AttributeError:
            v = self._get_checked(keys)
        if v is _STEP or v is None:
            return []
        if type(v) is not list:
            return _expect(v, list, "a list", self.path + keys)
        for i, x in enumerate(v):
            if not isinstance(x, str):
                raise NotEvaluated(
                    f"{format_path(self.at(*keys))}[{i}] is {type_name(x)}, expected a string", self.at(*keys) + (i,)
                )
        return v
