"""Calico's selector language (`projectcalico.org/v3` policies): tokenizer, parser, AST, evaluator
and canonical printer, with exactly the syntax and meaning upstream gives it.

Sources (projectcalico/calico, Apache-2.0, read at commit 87c15906, Aug 2026):
`libcalico-go/lib/selector/tokenizer/tokenizer.go` (tokens, whitespace, label characters, quoting),
`libcalico-go/lib/selector/parser/parser.go` (grammar and precedence), `parser/ast.go` (evaluation
and the canonical string), `parser/stringset.go` (set literals), `parser/parser_test.go` (the
cases the tests below reuse as data), `api/pkg/apis/projectcalico/v3/*.go` (where `global()` is
allowed), `libcalico-go/lib/backend/syncersv1/updateprocessors/{rules,selectors}.go` (the
`pcns.` / `pcsa.` prefixing).

Syntax, as upstream tokenizes and parses it:

* whitespace is only space and tab (a newline outside a string literal is an error);
* a label is 1 to 512 characters of `[A-Za-z0-9_./-]` (so it may start with a digit, `-`, `/`);
* string literals are `"..."` or `'...'` with no escapes: a value may hold one kind of quote, never
  both;
* operators after a label: `==`, `!=`, `contains`, `starts with`, `ends with`, `in {...}`,
  `not in {...}`; the word operators are recognised only right after a label, need a word
  boundary after their last word, and the words of `starts with`, `ends with`, `not in` may be
  separated by any whitespace, none included (`startswith`, `notin`);
* `has(label)`, `all()`, `global()`: the name and `(` must touch (`has (a)` is an error),
  whitespace is allowed inside the parentheses;
* a set literal holds zero or more string literals separated by commas; one trailing comma is
  allowed (`{"a",}`), `{,}` is not; the set is sorted and de-duplicated;
* precedence: `!` (any run of `!` collapses to one negation or none) binds tightest and applies
  to one operation or one parenthesised expression, then `&&`, then `||`; both are
  left-to-right n-ary lists (`a && b && c` is one And of three); a parenthesised expression with
  one operand is that operand (`(all())` is `all()`);
* the empty selector (or only whitespace) parses to `all()`.

Meaning over a label set: `==`, `contains`, `starts with`, `ends with`, `in`, `has` need the label
present; `!=` and `not in` also match when it is absent; `all()` and `global()` match every label
set (`global()` only means something as a rule's namespaceSelector: there it is rewritten to
"not in any namespace", i.e. host endpoints and global network sets; the CRDs' CEL rules reject it
in a policy's `selector`, `serviceAccountSelector`, a GlobalNetworkPolicy's `namespaceSelector`
and a rule's `selector`, and a rule's namespaceSelector holding it must be exactly `global()`).

Where "" means all(): a policy's `selector` ("" selects every endpoint; for a namespaced
NetworkPolicy every endpoint of its namespace), and in every other field "" means "no
constraint" (a rule's selector / notSelector / namespaceSelector, serviceAccountSelector,
serviceAccounts.selector, a GlobalNetworkPolicy's namespaceSelector); the exception is a
namespaced policy's rule: an absent namespaceSelector there limits the rule's selector to the
policy's namespace (see calico.py).

The canonical printer is upstream's `Selector.String()` (`a == "b"`, `(x && y)`, `(x || y)` with
parentheses around every And/Or, `!x`, `a in {"a", "b"}`, a value quoted with `'` when it holds a
`"`), with one deliberate difference: a negation of a negation (only reachable as `!(!x)`) prints
as `!(!x)`, where upstream prints `!!x`, which re-parses to `x`; so `parse(str(ast)) == ast` for
every parsed AST.

Hostile input: a selector longer than MAX_LENGTH characters or nesting parentheses deeper than
MAX_DEPTH is refused with a CalicoSelectorError (upstream has no such bound: its CRDs cap
selector fields at 1024 characters, which allows 511 nested parentheses). The parser is
iterative; evaluation and printing recurse at most about 3 x MAX_DEPTH frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from kubefort.model import NotEvaluated, Path_

__all__ = [
    "MAX_DEPTH",
    "MAX_LABEL_LENGTH",
    "MAX_LENGTH",
    "All",
    "And",
    "CalicoSelectorError",
    "Global",
    "Has",
    "In",
    "Label",
    "Node",
    "Not",
    "NotIn",
    "Or",
    "has_global",
    "parse_calico_selector",
    "prefix_labels",
    "tokenize",
]

MAX_LENGTH = 65536  # characters: kubefort's bound (upstream CRDs allow 1024 per field; conversions build longer ones)
MAX_DEPTH = 100  # nested parentheses: kubefort's bound, keeps evaluation far below Python's recursion limit
MAX_LABEL_LENGTH = 512  # tokenizer.MaxLabelLength

_IDENT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-")
_WS = " \t"


class CalicoSelectorError(NotEvaluated):
    """A selector upstream's parser rejects (or one beyond kubefort's bounds); `position` is the
    0-based character offset where the problem was found."""

    def __init__(self, reason: str, position: int, text: str = "", path: Path_ = ()) -> None:
        shown = text if len(text) <= 80 else text[:77] + "..."
        super().__init__(f"selector {shown!r}: {reason} (at character {position})", path)
        self.position = position
        self.detail = reason


# -- AST ----------------------------------------------------------------------------------------
def _quote(value: str) -> str:
    q = "'" if '"' in value else '"'
    return f"{q}{value}{q}"


class Node:
    """A selector expression. Nodes are frozen dataclasses: equal expressions compare equal."""

    __slots__ = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        raise NotImplementedError

    def _text(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self._text()


@dataclass(frozen=True, slots=True)
class All(Node):
    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def _text(self) -> str:
        return "all()"


@dataclass(frozen=True, slots=True)
class Global(Node):
    def matches(self, labels: Mapping[str, str]) -> bool:
        return True

    def _text(self) -> str:
        return "global()"


@dataclass(frozen=True, slots=True)
class Has(Node):
    label: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.label in labels

    def _text(self) -> str:
        return f"has({self.label})"


LABEL_OPS = ("==", "!=", "contains", "starts with", "ends with")


@dataclass(frozen=True, slots=True)
class Label(Node):
    """`label OP "value"` for OP in LABEL_OPS."""

    label: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        v = labels.get(self.label)
        if v is None:
            return self.op == "!="
        if self.op == "==":
            return v == self.value
        if self.op == "!=":
            return v != self.value
        if self.op == "contains":
            return self.value in v
        if self.op == "starts with":
            return v.startswith(self.value)
        return v.endswith(self.value)

    def _text(self) -> str:
        return f"{self.label} {self.op} {_quote(self.value)}"


@dataclass(frozen=True, slots=True)
class In(Node):
    label: str
    values: tuple[str, ...]  # sorted, without repeats

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.label in labels and labels[self.label] in self.values

    def _text(self) -> str:
        return f"{self.label} in {{{', '.join(_quote(v) for v in self.values)}}}"


@dataclass(frozen=True, slots=True)
class NotIn(Node):
    label: str
    values: tuple[str, ...]  # sorted, without repeats

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.label not in labels or labels[self.label] not in self.values

    def _text(self) -> str:
        return f"{self.label} not in {{{', '.join(_quote(v) for v in self.values)}}}"


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node

    def matches(self, labels: Mapping[str, str]) -> bool:
        return not self.operand.matches(labels)

    def _text(self) -> str:
        if isinstance(self.operand, Not):  # upstream prints "!!x" (which re-parses to x)
            return f"!({self.operand._text()})"
        return f"!{self.operand._text()}"


@dataclass(frozen=True, slots=True)
class And(Node):
    operands: tuple[Node, ...] = field(default=())  # two or more

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(o.matches(labels) for o in self.operands)

    def _text(self) -> str:
        return "(" + " && ".join(o._text() for o in self.operands) + ")"


@dataclass(frozen=True, slots=True)
class Or(Node):
    operands: tuple[Node, ...] = field(default=())  # two or more

    def matches(self, labels: Mapping[str, str]) -> bool:
        return any(o.matches(labels) for o in self.operands)

    def _text(self) -> str:
        return "(" + " || ".join(o._text() for o in self.operands) + ")"


# -- tokenizer ----------------------------------------------------------------------------------
# token kinds
LPAREN, RPAREN, LBRACE, RBRACE, COMMA, EQ, NE, NOT, AND, OR = "(", ")", "{", "}", ",", "==", "!=", "!", "&&", "||"
LABEL, STRING, HAS, ALL, GLOBAL, EOF = "label", "string", "has", "all", "global", "end"
WORD_OPS = (("contains",), ("starts", "with"), ("ends", "with"), ("not", "in"), ("in",))
_WORD_KIND = {
    "contains": "contains",
    "startswith": "starts with",
    "endswith": "ends with",
    "notin": "not in",
    "in": "in",
}

Token = tuple[str, str, int]  # (kind, value, position)


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WS:
        i += 1
    return i


def _boundary(text: str, i: int) -> bool:
    return i >= len(text) or text[i] not in _IDENT


def _ident(text: str, i: int) -> tuple[str, int]:
    j = i
    while j < len(text) and text[j] in _IDENT:
        j += 1
    if j == i:
        raise CalicoSelectorError("expected a label", i, text)
    if j - i > MAX_LABEL_LENGTH:
        raise CalicoSelectorError(f"label longer than {MAX_LABEL_LENGTH} characters", i, text)
    return text[i:j], j


def _word_op(text: str, i: int) -> tuple[str, int] | None:
    """The word operator starting at i (upstream tries them in WORD_OPS order), and its end.
    A one-word operator needs a word boundary right after it (cutPrefixCheckBreak); a two-word
    one skips whitespace after each word, then needs a boundary (cutMultiWordPrefixCheckBreak)."""
    for words in WORD_OPS:
        j = i
        for w in words:
            if not text.startswith(w, j):
                break
            j += len(w)
            if len(words) > 1:
                j = _skip_ws(text, j)
        else:
            if _boundary(text, j):
                return _WORD_KIND["".join(words)], j
    return None


def tokenize(text: str) -> list[Token]:
    """Upstream's AppendTokens: the tokens of `text`, ending with EOF."""
    out: list[Token] = []
    i = 0
    n = len(text)
    while True:
        i = _skip_ws(text, i)
        if i >= n:
            out.append((EOF, "", i))
            return out
        c = text[i]
        last = out[-1][0] if out else None
        if c in "(){},":
            out.append((c, "", i))
            i += 1
        elif c in "\"'":
            j = text.find(c, i + 1)
            if j < 0:
                raise CalicoSelectorError("unterminated string", i, text)
            out.append((STRING, text[i + 1 : j], i))
            i = j + 1
        elif c == "=":
            if not text.startswith("==", i):
                raise CalicoSelectorError("expected ==", i, text)
            out.append((EQ, "", i))
            i += 2
        elif c == "!":
            if text.startswith("!=", i):
                out.append((NE, "", i))
                i += 2
            else:
                out.append((NOT, "", i))
                i += 1
        elif c in "&|":
            if not text.startswith(c * 2, i):
                raise CalicoSelectorError(f"expected {c * 2}", i, text)
            out.append((AND if c == "&" else OR, "", i))
            i += 2
        elif last == LABEL:
            found = _word_op(text, i)
            if found is None:
                raise CalicoSelectorError(f"expected an operator after label {out[-1][1]!r}", i, text)
            out.append((found[0], "", i))
            i = found[1]
        else:
            for name, kind in (("has(", HAS), ("all(", ALL), ("global(", GLOBAL)):
                if text.startswith(name, i):
                    j = _skip_ws(text, i + len(name))
                    value = ""
                    if kind == HAS:
                        value, j = _ident(text, j)
                        j = _skip_ws(text, j)
                    if not text.startswith(")", j):
                        raise CalicoSelectorError(f"no closing ')' after {name}", j, text)
                    out.append((kind, value, i))
                    i = j + 1
                    break
            else:
                value, j = _ident(text, i)
                out.append((LABEL, value, i))
                i = j


# -- parser -------------------------------------------------------------------------------------
def _join(ands: list[Node], ors: list[Node]) -> Node:
    """Close one parenthesis level (or the root): its And terms, then its Or terms."""
    ors = ors + [ands[0] if len(ands) == 1 else And(tuple(ands))]
    return ors[0] if len(ors) == 1 else Or(tuple(ors))


def _operation(tokens: list[Token], k: int, text: str) -> tuple[Node, int]:
    """One operation (has, all, global, label OP value) starting at tokens[k]."""
    kind, value, pos = tokens[k]
    if kind == HAS:
        return Has(value), k + 1
    if kind == ALL:
        return All(), k + 1
    if kind == GLOBAL:
        return Global(), k + 1
    if kind != LABEL:
        what = "end of selector" if kind == EOF else repr(text[pos : pos + 10])
        raise CalicoSelectorError(f"unexpected {what}", pos, text)
    op, _, opos = tokens[k + 1]
    if op in ("in", "not in"):
        lb = tokens[k + 2]
        if lb[0] != LBRACE:
            raise CalicoSelectorError("expected a set literal {...}", lb[2], text)
        j, values = k + 3, []
        while tokens[j][0] == STRING:
            values.append(tokens[j][1])
            j += 1
            if tokens[j][0] != COMMA:
                break
            j += 1
        if tokens[j][0] != RBRACE:
            raise CalicoSelectorError("expected }", tokens[j][2], text)
        vals = tuple(sorted(set(values)))
        return (In(value, vals) if op == "in" else NotIn(value, vals)), j + 1
    if op not in (EQ, NE, "contains", "starts with", "ends with"):
        raise CalicoSelectorError(f"expected an operator after label {value!r}", opos, text)
    lit = tokens[k + 2]
    if lit[0] != STRING:
        raise CalicoSelectorError("expected a string literal", lit[2], text)
    return Label(value, op, lit[1]), k + 3


def parse_calico_selector(text: str, path: Path_ = ()) -> Node:
    """Parse a selector exactly as upstream's parser.Parse does ("" and blanks: all()).
    Raises CalicoSelectorError (with `path`) where upstream rejects it or past kubefort's bounds."""
    if not isinstance(text, str):
        raise CalicoSelectorError(f"is {type(text).__name__}, expected a string", 0, "", path)
    try:
        return _parse(text)
    except CalicoSelectorError as exc:
        if path:
            exc.path = path
        raise


@lru_cache(maxsize=4096)
def _parse(text: str) -> Node:
    if len(text) > MAX_LENGTH:
        raise CalicoSelectorError(f"longer than {MAX_LENGTH} characters (kubefort's bound)", MAX_LENGTH, text)
    tokens = tokenize(text)
    if tokens[0][0] == EOF:
        return All()
    # one frame per open parenthesis: (negated, Or terms, And terms of the current Or term)
    stack: list[tuple[bool, list[Node], list[Node]]] = [(False, [], [])]
    k = 0
    while True:
        # an operand: any run of "!", then "(" (a new level) or one operation
        negated = False
        while tokens[k][0] == NOT:
            negated = not negated
            k += 1
        if tokens[k][0] == LPAREN:
            if len(stack) > MAX_DEPTH:
                raise CalicoSelectorError(
                    f"parentheses nested deeper than {MAX_DEPTH} (kubefort's bound)", tokens[k][2], text
                )
            stack.append((negated, [], []))
            k += 1
            continue
        node, k = _operation(tokens, k, text)
        stack[-1][2].append(Not(node) if negated else node)
        # after an operand: "&&", "||", ")" closing levels, or the end
        while True:
            kind, _, pos = tokens[k]
            if kind == AND:
                k += 1
                break
            if kind == OR:
                _, ors, ands = stack[-1]
                ors.append(ands[0] if len(ands) == 1 else And(tuple(ands)))
                ands.clear()
                k += 1
                break
            if kind == RPAREN and len(stack) > 1:
                neg, ors, ands = stack.pop()
                inner = _join(ands, ors)
                stack[-1][2].append(Not(inner) if neg else inner)
                k += 1
                continue
            if kind == EOF and len(stack) == 1:
                _, ors, ands = stack[0]
                return _join(ands, ors)
            if kind == EOF:
                raise CalicoSelectorError("expected )", pos, text)
            raise CalicoSelectorError("unexpected content at end of expression", pos, text)


# -- helpers for the policy model ---------------------------------------------------------------
def _walk(node: Node) -> list[Node]:
    out, todo = [], [node]
    while todo:
        n = todo.pop()
        out.append(n)
        if isinstance(n, Not):
            todo.append(n.operand)
        elif isinstance(n, (And, Or)):
            todo.extend(n.operands)
    return out


def has_global(node: Node) -> bool:
    """Whether the expression uses global() anywhere."""
    return any(isinstance(n, Global) for n in _walk(node))


def prefix_labels(node: Node, prefix: str) -> Node:
    """Upstream's PrefixVisitor: every label name gets `prefix` (`k == "v"` -> `pcns.k == "v"`)."""
    if isinstance(node, Has):
        return Has(prefix + node.label)
    if isinstance(node, Label):
        return Label(prefix + node.label, node.op, node.value)
    if isinstance(node, In):
        return In(prefix + node.label, node.values)
    if isinstance(node, NotIn):
        return NotIn(prefix + node.label, node.values)
    if isinstance(node, Not):
        return Not(prefix_labels(node.operand, prefix))
    if isinstance(node, And):
        return And(tuple(prefix_labels(o, prefix) for o in node.operands))
    if isinstance(node, Or):
        return Or(tuple(prefix_labels(o, prefix) for o in node.operands))
    return node
