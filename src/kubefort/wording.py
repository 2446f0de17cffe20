"""Small wording helpers for what kubefort prints: counted nouns ("1 policy", "3 policies").

One helper for every message, so that no output says "3 polic(ies)" or "1 checks".
"""

from __future__ import annotations

_VOWELS = frozenset("aeiou")


def plural_form(noun: str) -> str:
    """The English plural of a regular noun: policy -> policies, day -> days, pass -> passes,
    check -> checks. The last word of a phrase is the one that changes."""
    if noun.endswith("y") and len(noun) > 1 and noun[-2].lower() not in _VOWELS:
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def inflect(count: int, noun: str, plural_noun: str | None = None) -> str:
    """The noun in the number `count` asks for, without the count: inflect(2, "unknown key") ==
    "unknown keys" (for "unknown keys ['a', 'b']"); `plural_noun` for irregular nouns."""
    return noun if count == 1 else plural_noun or plural_form(noun)


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """`count` and the noun in the right number: plural(1, "policy") == "1 policy",
    plural(3, "policy") == "3 policies"; `plural_noun` for irregular nouns."""
    return f"{count} {inflect(count, noun, plural_noun)}"
