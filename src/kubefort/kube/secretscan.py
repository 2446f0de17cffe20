"""Credential detection for literal strings in manifests (env values, ConfigMap data).

Three detectors, from most to least certain:

- `find_tokens(text)`: credential formats with a fixed shape (PEM private keys, AWS access key
  IDs, GitHub / GitLab / Slack / Stripe / Google / OpenAI / Hugging Face / npm / SendGrid tokens,
  JWTs, Azure storage account keys, URLs with an embedded password). Independent of any name.
- `sensitive_name(name)`: a variable or key name that says it holds a credential
  (`DB_PASSWORD`, `clientSecret`, `API_KEY`, `REDIS_AUTH`, the short `pwd`, `passwd`, `pass`,
  `pw` also run together as in `DBPASS` or `rootpw`, and Authorization-style names such as
  `authorization`, `auth_header`, `x-api-key`), unless a qualifier says the value only points
  at one (`*_FILE`, `*_PATH`, `*_SECRET_NAME`, `*_TOKEN_URL`, `*_USERNAME` ...).
- `high_entropy(value)`: a single random-looking token, with detect-secrets' Shannon entropy
  limits (base64 charset >= 4.5 bits per character, hex >= 3.0; at least 20 characters).

`literal_candidate(value)` says whether a value can be a literal credential at all. The rule: a
value is *not* a credential when it is empty, a reference (`$(VAR)`, `${VAR}`, `$VAR`,
`{{ .Values.x }}`), a path (`/run/secrets/db`, `./x`, `~/x`), a URL without a password, a
boolean, a number or duration (`3600`, `1h`), an obvious placeholder (`<your-token>`,
`REPLACE_ME_TOKEN`, `xxxx`), the variable's own name, the name of a Secret object under a
`*_SECRET` name, or, under an Authorization-style name, an HTTP header name (`Authorization`,
`X-Api-Key`). Anything else under a credential name is treated as the credential itself: that is
why a short name such as `pwd` counts, and the shell's `PWD=/app` (a path) does not.

`find_tokens` also reads HTTP `Authorization` values: `Bearer <token>` (a token of at least 12
characters with a digit or mixed case) and `Basic <base64 of user:password>`.

Nothing here ever returns or formats a secret value: `Hit.shown` is a redacted form built only
from the public prefix of a token format (`ghp_…(40 chars)`) or `****`.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import functools
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

REDACTED = "****"


@dataclass(frozen=True, slots=True)
class Hit:
    what: str  # "GitHub token", "literal value", ...
    shown: str  # redacted form, safe to print
    offset: int = 0  # where in the scanned text (for locating a line inside a multi-line value)


def _shape(prefix: str, token: str) -> str:
    return f"{prefix}…({len(token)} chars)"


# ---------------------------------------------------------------------------------------------
# fixed-shape tokens
# ---------------------------------------------------------------------------------------------
_PEM_PRIVATE = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=]{40,}")

# (description, regex, number of leading characters that are a public, fixed prefix)
_TOKENS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    ("AWS access key ID", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"), 4),
    ("GitHub token", re.compile(r"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,255}(?![A-Za-z0-9_])"), 4),
    ("GitHub token", re.compile(r"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,255}(?![A-Za-z0-9_])"), 11),
    ("GitLab token", re.compile(r"(?<![A-Za-z0-9_-])glpat-[A-Za-z0-9_-]{20,}(?![A-Za-z0-9_-])"), 6),
    (
        "Slack token",
        re.compile(r"(?<![A-Za-z0-9-])xox[abposr]-(?:[A-Za-z0-9]+-){1,4}[A-Za-z0-9]{8,}(?![A-Za-z0-9-])"),
        5,
    ),
    (
        "Slack webhook URL",
        re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,}"),
        34,
    ),
    ("Stripe live key", re.compile(r"(?<![A-Za-z0-9_])(?:sk|rk)_live_[A-Za-z0-9]{20,}(?![A-Za-z0-9])"), 8),
    ("Google API key", re.compile(r"(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])"), 4),
    (
        "OpenAI API key",
        re.compile(
            r"(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}(?![A-Za-z0-9_-])"
        ),
        3,
    ),
    (
        "Anthropic API key",
        re.compile(r"(?<![A-Za-z0-9_-])sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,}(?![A-Za-z0-9_-])"),
        7,
    ),
    ("Hugging Face token", re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{34,}(?![A-Za-z0-9])"), 3),
    ("npm token", re.compile(r"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"), 4),
    ("SendGrid API key", re.compile(r"(?<![A-Za-z0-9_])SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])"), 3),
    (
        "JSON Web Token",
        re.compile(
            r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,}(?![A-Za-z0-9_-])"
        ),
        3,
    ),
    ("Azure storage account key", re.compile(r"AccountKey=[A-Za-z0-9+/]{80,}={0,2}"), 11),
)
# the documented example credentials of AWS: not secrets, in every tutorial
_KNOWN_EXAMPLES = frozenset({"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})

_URL_CRED = re.compile(
    r"\b([a-zA-Z][a-zA-Z0-9+.-]{1,20})://([^\s/:@'\"]+):([^\s/@'\"]+)@([A-Za-z0-9.\-\[\]_]+(?::\d+)?)"
)


# HTTP Authorization values (RFC 6750 b64token; RFC 7617 base64 of "user-id:password"); the scheme
# is case-insensitive (RFC 9110 11.1)
_AUTH_SCHEME = re.compile(r"(?<![A-Za-z0-9_-])((?i:bearer|basic))[ \t]+([A-Za-z0-9._~+/-]+=*)(?![A-Za-z0-9._~+/=-])")
_BEARER_MIN = 12


# one literal that every match of the patterns above must contain: most values have none, and
# one search for all of them is much cheaper than every pattern in turn
_MARKERS = re.compile(
    r"AKIA|ASIA|ABIA|ACCA|gh[pousr]_|github_pat_|glpat-|xox[abposr]-|hooks\.slack\.com|_live_|AIza|T3BlbkFJ|sk-ant-"
    r"|hf_|npm_|SG\.|eyJ|AccountKey=|PRIVATE KEY|://"
)
# what every "Bearer"/"Basic" in any usual spelling contains: plain substring tests, far cheaper
# than a case-insensitive alternative in _MARKERS
_AUTH_HINTS = ("earer", "EARER", "asic", "ASIC")


# per pattern of _TOKENS (same order): literals one of which every match contains
_TOKEN_LITERALS: tuple[tuple[str, ...], ...] = (
    ("AKIA", "ASIA", "ABIA", "ACCA"),
    ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ("github_pat_",),
    ("glpat-",),
    ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-"),
    ("hooks.slack.com",),
    ("_live_",),
    ("AIza",),
    ("T3BlbkFJ",),
    ("sk-ant-",),
    ("hf_",),
    ("npm_",),
    ("SG.",),
    ("eyJ",),
    ("AccountKey=",),
)
if len(_TOKEN_LITERALS) != len(_TOKENS):  # pragma: no cover - an edit that forgot one of the two tables
    raise RuntimeError("_TOKEN_LITERALS and _TOKENS must have one row per token pattern")


def find_tokens(text: str) -> list[Hit]:
    """Credential-shaped substrings of `text`, each with a redacted form; empty when none."""
    auth = any(h in text for h in _AUTH_HINTS)
    if not auth and _MARKERS.search(text) is None:
        return []
    hits: list[Hit] = []
    for m in _PEM_PRIVATE.finditer(text):
        body = text[m.end() : m.end() + 400]
        if _PEM_BODY.search(body):
            label = m.group(1).strip()
            hits.append(
                Hit(
                    f"{label + ' ' if label else ''}private key (PEM)",
                    f"-----BEGIN {m.group(1)}PRIVATE KEY----- …",
                    m.start(),
                )
            )
    if "://" in text:
        for m in _URL_CRED.finditer(text):
            password = m.group(3)
            if not literal_candidate(password) or password == "x-oauth-basic":  # noqa: S105 - GitHub's placeholder password
                continue
            hits.append(Hit("URL with an embedded password", f"{m.group(1)}://{REDACTED}@{m.group(4)}", m.start()))
    for (what, rx, keep), literals in zip(_TOKENS, _TOKEN_LITERALS, strict=False):
        if not any(lit in text for lit in literals):
            continue  # the pattern cannot match: a text that passed for another marker (often "://")
        for m in rx.finditer(text):
            tok = m.group(0)
            if tok in _KNOWN_EXAMPLES or (what == "AWS access key ID" and tok.endswith("EXAMPLE")):
                continue
            hits.append(Hit(what, _shape(tok[:keep], tok), m.start()))
    if auth:
        hits += _authorization_hits(text, hits)
    hits.sort(key=lambda h: h.offset)
    return hits


def _authorization_hits(text: str, found: list[Hit]) -> list[Hit]:
    """`Bearer <token>` and `Basic <base64>` credentials not already reported as a known format."""
    out: list[Hit] = []
    for m in _AUTH_SCHEME.finditer(text):
        scheme, token = m.group(1), m.group(2)
        if any(m.start(2) <= h.offset < m.end(2) for h in found):
            continue  # a JWT, GitHub token ... after "Bearer": already named precisely
        if scheme.lower() == "bearer":
            if not bearer_token(token):
                continue
            out.append(Hit("HTTP Bearer token", _shape("Bearer ", token), m.start()))
        elif basic_credentials(token):
            out.append(Hit("HTTP Basic credential", _shape("Basic ", token), m.start()))
    return out


def bearer_token(token: str) -> bool:
    """Could `token` after "Bearer" be a real one? At least 12 characters with a digit or both
    cases, and no placeholder or reference (`Bearer tokens`, `Bearer YOUR_TOKEN` are not)."""
    if len(token) < _BEARER_MIN or not literal_candidate(token):
        return False
    has_digit = any(ch.isdigit() for ch in token)
    return has_digit or (any(ch.isupper() for ch in token) and any(ch.islower() for ch in token))


def basic_credentials(token: str) -> bool:
    """Is `token` after "Basic" the base64 of "user-id:password" with a password (RFC 7617)?"""
    if len(token) < 8 or len(token) % 4:
        return False
    try:
        text = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    _, sep, password = text.partition(":")
    return bool(sep and password) and text.isprintable() and literal_candidate(password)


def decoded_pem_hits(value: str) -> list[Hit] | None:
    """For a base64 blob: the private keys in its decoded text; None when it is no PEM at all.

    Certificates and public keys (a common base64 payload: CA bundles) give [] so callers can
    tell "decoded, harmless" from "not base64 PEM".
    """
    compact = "".join(value.split())
    if len(compact) < 40 or not compact.startswith("LS0t"):  # "-----" encoded
        return None
    try:
        text = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=False).decode("ascii", "replace")
    except (binascii.Error, ValueError):
        return None
    if "-----BEGIN" not in text:
        return None
    return [Hit("base64-encoded " + h.what, "base64 of " + h.shown, 0) for h in find_tokens(text) if "PEM" in h.what]


# ---------------------------------------------------------------------------------------------
# names that say "credential"
# ---------------------------------------------------------------------------------------------
_STRONG_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "passcode",
        "pass",
        "pwd",
        "pw",
        "secret",
        "token",
        "credential",
        "credentials",
        "creds",
        "cred",
        "apikey",
        "accesskey",
        "secretkey",
        "privatekey",
        "privkey",
    }
)
# a substring that is unambiguous inside a longer word (DBPASSWORD, clientsecret, jwtsecret)
_STRONG_SUBSTRINGS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "credential",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
)
# "<prefix> key" is a credential (API_KEY, SIGNING_KEY, accountKey); any other "*_KEY" is ambiguous
_KEY_PREFIXES = frozenset(
    {
        "api",
        "access",
        "secret",
        "private",
        "priv",
        "encryption",
        "encrypt",
        "signing",
        "sign",
        "master",
        "hmac",
        "account",
        "license",
        "licence",
        "session",
        "app",
        "auth",
        "jwt",
        "cookie",
        "webhook",
        "shared",
        "sas",
        "storage",
        "subscription",
        "ssh",
        "root",
        "admin",
        "service",
    }
)
_PASS_DIRECTIVES = frozenset({"proxy", "fastcgi", "uwsgi", "grpc", "scgi", "memcached"})
# the short credential words at the end of a run-together word (DBPASS, MYSQLPWD, rootpw), longest first
_SHORT_SUFFIXES = ("passwd", "pwd", "pass", "pw")
# English words and nginx directives that end in "pass" and are no password
_PASS_WORDS = frozenset(
    {"bypass", "compass", "surpass", "overpass", "underpass", "trespass", "encompass", "impass", "multipass"}
    | {d + "pass" for d in _PASS_DIRECTIVES}
)
# Authorization-style names: the value is sent as an HTTP Authorization (or API key) header
_AUTHORIZATION_WORDS = frozenset({"authorization", "authorisation", "authheader", "authorizationheader"})
_AUTH_HEADER_PREFIXES = frozenset({"auth", "authorization", "authorisation"})
_BEARER_WORDS = frozenset({"bearer"})
# qualifiers run together with a credential word (PASSWORDFILE, tokenurl, SECRETNAME): still pointers
_RUN_TOGETHER_QUALIFIERS = (
    "file",
    "path",
    "dir",
    "url",
    "uri",
    "name",
    "ref",
    "id",
    "ttl",
    "length",
    "hash",
    "type",
    "mode",
    "enabled",
    "env",
    "var",
)
_CREDENTIAL_STEMS = ("password", "passwd", "pwd", "pass", "pw", "secret", "token", "apikey", "credential", "creds")
_PUBLIC = frozenset({"public", "pub", "publishable"})
# a last word that makes the variable describe or point at a credential rather than hold it
_QUALIFIERS = frozenset(
    {
        "file",
        "files",
        "path",
        "paths",
        "dir",
        "directory",
        "folder",
        "mount",
        "location",
        "url",
        "uri",
        "urls",
        "endpoint",
        "host",
        "hostname",
        "port",
        "addr",
        "address",
        "name",
        "names",
        "ref",
        "reference",
        "id",
        "ids",
        "arn",
        "user",
        "username",
        "usr",
        "login",
        "length",
        "len",
        "size",
        "min",
        "max",
        "type",
        "kind",
        "mode",
        "method",
        "enabled",
        "enable",
        "disabled",
        "disable",
        "required",
        "policy",
        "header",
        "headers",
        "env",
        "var",
        "field",
        "prefix",
        "suffix",
        "expiry",
        "expires",
        "expiration",
        "ttl",
        "lifetime",
        "timeout",
        "interval",
        "duration",
        "period",
        "seconds",
        "secs",
        "minutes",
        "hours",
        "days",
        "count",
        "provider",
        "issuer",
        "audience",
        "scope",
        "scopes",
        "format",
        "algorithm",
        "algo",
        "version",
        "namespace",
        "namespaces",
        "volume",
        "template",
        "selector",
        "label",
        "annotation",
        "regex",
        "pattern",
        "validation",
        "rotation",
        "refresh",
        "strength",
        "complexity",
        "hint",
        "backend",
        "source",
        "store",
        "manager",
        "key_ref",
        "secretref",
        "keyref",
        "generator",
        "hash",
        "digest",
        "checksum",
        "sha",
        "md5",
        "fingerprint",
        "salt_rounds",
        "rounds",
        "cost",
        "iterations",
        "spec",
        "class",
        "status",
        "sync",
        "reader",
        "writer",
        "informer",
        "filter",
        "filtering",
        "request",
        "requests",
        "limit",
        "limits",
        "grace",
        "cache",
    }
)
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def words(name: str) -> list[str]:
    """`OAUTH2_PROXY_COOKIE_SECRET` -> [oauth2, proxy, cookie, secret]; `clientSecret` -> [client, secret]."""
    out: list[str] = []
    for part in _WORD_SPLIT.split(name):
        if part:
            out.extend(w.lower() for w in _CAMEL.split(part) if w)
    return out


@functools.lru_cache(maxsize=8192)  # the same variable names recur in every workload
def sensitive_name(name: str) -> tuple[str, bool] | None:
    """(matched term, strong?) when `name` says it holds a credential, else None.

    Strong names (password, secret, token, API key, authorization ...) make any literal value
    suspect; weak ones (another `*_KEY`) only a random-looking value. Words are compared in lower
    case after splitting at `_`, `-`, `.` and camelCase, with trailing digits dropped
    (`PWD2`, `pass_1`); a last word that qualifies the credential (`_FILE`, `_URL`, `_NAME` ...)
    makes the name a pointer, not a holder.
    """
    raw = [w for w in words(name) if not w.isdigit()]
    if not raw:
        return None
    ws = [_TRAILING_DIGITS.sub("", w) for w in raw]
    if len(ws) > 1 and ws[-1] in ("header", "headers") and ws[-2] in _AUTH_HEADER_PREFIXES:
        return "authorization header", True  # AUTH_HEADER, authorizationHeader: the header's value
    if raw[-1] in _QUALIFIERS or ws[-1] in _QUALIFIERS or _run_together_qualifier(ws[-1]):
        return None  # PASSWORD_MD5, PASSWORD_SHA256, DB_PASSWORD_FILE
    if any(w in _PUBLIC for w in ws) and not any(s in w for w in ws for s in ("password", "passwd", "secret", "token")):
        return None
    for i, w in enumerate(ws):
        if w in _STRONG_WORDS:
            if w == "pass" and ((i > 0 and ws[i - 1] in _PASS_DIRECTIVES) or ws[i + 1 : i + 2] == ["through"]):
                continue  # nginx proxy_pass, fastcgi_pass ...; SSL_PASS_THROUGH
            return w, True
        if w in _AUTHORIZATION_WORDS:
            return "authorization", True
        if w in _BEARER_WORDS:
            return w, True
        if w == "auth" and i == len(ws) - 1:  # REDIS_AUTH, BASIC_AUTH; not AUTH_TYPE, GF_AUTH_ANONYMOUS_ENABLED
            return w, True
        if w.endswith("token") and len(w) > 5:  # APITOKEN, authToken -> [auth, token] handled above
            return w, True
        for s in _STRONG_SUBSTRINGS:
            if s in w:
                return s, True
        if w == "key" and i > 0 and ws[i - 1] in _KEY_PREFIXES:
            return f"{ws[i - 1]} key", True
        if w.endswith("key") and w[:-3] in _KEY_PREFIXES:
            return w, True
        short = _short_suffix(w)
        if short is not None:
            return short, True
    if ws[-1] == "key" or ws[-1].endswith("key"):
        return ws[-1], False
    return None


_TRAILING_DIGITS = re.compile(r"(?<=[a-z])\d+$")


def _short_suffix(word: str) -> str | None:
    """`dbpass` -> pass, `mysqlpwd` -> pwd, `rootpw` -> pw; not `bypass`, `compass`, `proxypass`."""
    if word in _PASS_WORDS:
        return None
    for s in _SHORT_SUFFIXES:
        if word.endswith(s) and len(word) > len(s):
            return s
    return None


def _run_together_qualifier(word: str) -> bool:
    """`passwordfile`, `tokenurl`, `secretname`: a credential word followed by a qualifier."""
    for q in _RUN_TOGETHER_QUALIFIERS:
        if word.endswith(q) and word[: -len(q)].rstrip("0123456789").endswith(_CREDENTIAL_STEMS):
            return True
    return False


def is_authorization_name(name: str) -> bool:
    """`authorization`, `AUTH_HEADER`, `proxy-authorization`, `x-api-key`: the value is a header's."""
    found = sensitive_name(name)
    return found is not None and found[0] in ("authorization", "authorization header", "api key", "apikey")


# ---------------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------------
_BOOLISH = frozenset(
    {
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "enabled",
        "disabled",
        "enable",
        "disable",
        "none",
        "null",
        "nil",
        "~",
    }
)
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:ms|s|m|h|d|w|k|K|M|G|Ki|Mi|Gi)?$")
_REFERENCE = re.compile(
    r"\$\([A-Za-z_][A-Za-z0-9_.-]*\)|\$\{[^}]*\}|\{\{.*?\}\}|^\$[A-Za-z_][A-Za-z0-9_]*$|%\{[^}]*\}|#\{[^}]*\}|\[\[.*?\]\]|@@[A-Za-z_]+@@"
)
_ANGLE = re.compile(r"^<[^<>]*>$|^\[[^\[\]]*\]$|^\([^()]*\)$")
_FILLER = re.compile(r"^(?:x+|X+|\*+|\.+|-+|_+|#+|\?+|0+)$")
_IDENT = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$")  # GOOGLE_API_KEY_VAL, INSERT_ETCD_TOKEN: replaced by a script
_MARKER = re.compile(r"^(?:__[A-Za-z0-9_]+__|@[A-Za-z0-9_]+@|%[A-Za-z0-9_]+%)$")  # __SERVICEACCOUNT_TOKEN__, @TOKEN@
# the name of a Secret object (optionally namespace/name), as in `tlsSecret: ingress-tls`
SECRET_OBJECT_REF = re.compile(r"^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?/)?[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$")
_REPLACE = re.compile(
    r"replace[_ -]?(?:me|this|with)|insert[_ -]|your[_ -]?(?:own[_ -]?)?(?:token|key|secret|api)|^todo$|^tbd$|^fixme$|^redacted$|^placeholder$|^<|>$",
    re.IGNORECASE,
)
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# an HTTP header's name, as configured under AUTH_HEADER / API_KEY_HEADER-style names
_HEADER_NAME = re.compile(
    r"^(?:(?i:authorization|proxy-authorization|cookie|api-key|apikey|token)|[Xx]-[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*)$"
)
_PATH = re.compile(r"^(?:/|\./|\.\./|~/|file:|[A-Za-z]:\\)")

_SCAN_PREFIX = 4096
COMMON_DEFAULTS = frozenset(
    {
        "password",
        "passw0rd",
        "p@ssw0rd",
        "p@ssword",
        "changeme",
        "change-me",
        "change_me",
        "changeit",
        "admin",
        "administrator",
        "root",
        "secret",
        "default",
        "test",
        "guest",
        "letmein",
        "123456",
        "12345678",
        "qwerty",
        "postgres",
        "mysql",
        "demo",
        "example",
        "pass",
        "pw",
        "token",
        "admin123",
        "password123",
        "minio123",
        "rabbitmq",
        "redis",
        "user",
        "supersecret",
    }
)


def names_secret_object(name: str, value: str) -> bool:
    """`tlsSecret: ingress-tls`, `CERTS_SECRET: kube-system/webhook-certs`: the value names a Secret
    object (a lowercase DNS name with a '-' or '/'), it is not one."""
    ws = words(name)
    v = value.strip()
    return bool(ws) and ws[-1] == "secret" and ("-" in v or "/" in v) and bool(SECRET_OBJECT_REF.match(v))


def literal_candidate(value: str, name: str | None = None) -> bool:
    """False when `value` cannot be a literal credential: empty, a reference, a path, a plain URL,
    a boolean, a number or duration, or a placeholder meant to be replaced before use."""
    v = value.strip().strip("'\"").strip()
    if not v:
        return False
    if _REFERENCE.search(v[:_SCAN_PREFIX]):  # bounded: these patterns backtrack on hostile input
        return False
    low = v.lower()
    if low in _BOOLISH or _NUMBER.match(v):
        return False
    if _PATH.match(v) or (_URL.match(v) and not _URL_CRED.search(v)):
        return False
    if _ANGLE.match(v) or _FILLER.match(v) or _REPLACE.search(v):
        return False
    if _IDENT.match(v) or _MARKER.match(v):
        return False
    if name is None:
        return True
    if low in (name.lower(), name.lower().replace("_", "-")) or names_secret_object(name, v):
        return False
    return not (_HEADER_NAME.match(v) and is_authorization_name(name))


def is_common_default(value: str) -> bool:
    return value.strip().lower() in COMMON_DEFAULTS


def shannon_entropy(s: str) -> float:
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


_B64_TOKEN = re.compile(r"^[A-Za-z0-9+/_=-]{20,}$")
_HEX_TOKEN = re.compile(r"^[0-9a-fA-F]{20,}$")
B64_LIMIT = 4.5
HEX_LIMIT = 3.0


def token_shaped(value: str) -> bool:
    """Could `high_entropy` say yes? (one run of base64 or hex characters, 20 or more)"""
    v = value.strip()
    return bool(_B64_TOKEN.match(v) or _HEX_TOKEN.match(v))


def high_entropy(value: str, allow_hex: bool = True) -> str | None:
    """'base64' or 'hex' when the whole value is one random-looking token (detect-secrets' limits)."""
    v = value.strip()
    if _HEX_TOKEN.match(v):
        if not allow_hex:
            return None
        e = shannon_entropy(v)
        if v.isdigit():  # detect-secrets: all-digit strings get a penalty
            e -= 1.2 / math.log2(len(v))
        return "hex" if e >= HEX_LIMIT else None
    if _B64_TOKEN.match(v) and any(ch.isdigit() for ch in v) and any(ch.isalpha() for ch in v):
        return "base64" if shannon_entropy(v) >= B64_LIMIT else None
    return None


# ---------------------------------------------------------------------------------------------
# key = value lines inside configuration files (ConfigMap data)
# ---------------------------------------------------------------------------------------------
_ASSIGN = re.compile(
    r"""^[ \t]*(?:export[ \t]+|-[ \t]+)?["']?([A-Za-z_][A-Za-z0-9_.\-]*)["']?[ \t]*[:=](.*)$""",
    re.MULTILINE,
)
_TRAILING_COMMENT = re.compile(r"[ \t]+#.*$")
_EXPRESSION = re.compile(r"[()\[\]]")
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$")
_NSSWITCH_SOURCES = frozenset(
    {"files", "compat", "db", "nis", "nisplus", "ldap", "sss", "systemd", "altfiles", "winbind"}
)


def assignments(text: str) -> Iterator[tuple[str, str, int]]:
    """(name, literal value, offset) for `name: value`, `name = value`, `"name": "value"` and
    `export NAME=value` lines of YAML, JSON, TOML, INI, .properties and env files."""
    for m in _ASSIGN.finditer(text):
        name, raw = m.group(1), m.group(2).strip().rstrip(",;").rstrip()
        if not raw or raw[0] in "|>{[&*!":  # block scalars, nested mappings, anchors, tags
            continue
        if raw[0] in "\"'":
            q = raw[0]
            end = raw.find(q, 1)
            if end < 0:
                continue
            val = raw[1:end]
        else:
            val = _TRAILING_COMMENT.sub("", raw).strip()
            if " " in val or _EXPRESSION.search(val) or _DOTTED.match(val):
                continue  # prose, a command line, or code (os.environ["X"], settings.TOKEN): not a literal
            if name.lower() in ("passwd", "shadow") and val in _NSSWITCH_SOURCES:
                continue  # nsswitch.conf: "passwd: files"
        yield name, val, m.start()


class Lines:
    """1-based line numbers of offsets in one text, in O(log n) each."""

    def __init__(self, text: str) -> None:
        self._starts = [m.end() for m in re.finditer("\n", text)]

    def of(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset) + 1


def line_of(text: str, offset: int) -> int:
    """1-based line number of `offset` in `text`."""
    return text.count("\n", 0, offset) + 1
