"""Credential names, values and one-line settings (kubefort.kube.secretscan, KF-SEC-002/004), as classes.

* Names: the credential words (password, passwd, pass, pwd, pw, secret, token, API key, ...) in
  every spelling a manifest uses (case, `_` `-` `.` separators, camelCase, run together as in
  `DBPASS`, trailing digits, prefixes such as `DB_`), and Authorization-style names; a trailing
  qualifier (`_FILE`, `_URL`, `_NAME` ...) makes any of them a pointer, not a credential.
* Values: under a credential name, a value is a credential unless it cannot be one (empty, a
  reference, a path, a boolean or number, a placeholder, a header name under a header name).
* `Bearer <token>` and `Basic <base64 user:password>` are credentials whatever the name.
* A one-line ConfigMap value that is a `KEY=value` / `KEY: value` setting is read exactly as
  the same line inside a multi-line value.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kubefort.engine import Engine, EngineSettings
from kubefort.kube import secretscan
from kubefort.registry import REGISTRY

CORES = ["password", "passwd", "pass", "pwd", "pw", "secret", "token", "apikey", "passphrase", "credentials"]
SHORT = ["passwd", "pass", "pwd", "pw"]
PREFIXES = [[], ["db"], ["mysql", "root"], ["app"], ["redis"], ["smtp"], ["admin"], ["spring", "datasource"]]
QUALIFIERS = ["file", "path", "url", "name", "ttl", "length", "enabled", "type", "hash", "dir", "ref", "id"]


def _case(word: str, how: str) -> str:
    return {"lower": word.lower(), "upper": word.upper(), "title": word.title()}[how]


@st.composite
def credential_names(draw: st.DrawFn) -> tuple[str, bool]:
    """(a spelling of [prefix] core [digits] [qualifier], whether it names a credential)."""
    prefix = draw(st.sampled_from(PREFIXES))
    style = draw(st.sampled_from(["_", "-", ".", "camel", "together"]))
    core = draw(st.sampled_from(SHORT if style == "together" else CORES))
    qualifier = draw(st.none() | st.sampled_from(QUALIFIERS))
    digits = draw(st.sampled_from(["", "", "2", "01"]))
    parts = [*prefix, core + digits]
    if qualifier:
        parts.append(qualifier)
    if style == "camel":
        name = parts[0].lower() + "".join(p.title() for p in parts[1:])
    elif style == "together":
        name = _case("".join(parts), draw(st.sampled_from(["lower", "upper"])))
    else:
        how = draw(st.sampled_from(["lower", "upper", "title"]))
        name = style.join(_case(p, how) for p in parts)
    return name, qualifier is None


@settings(max_examples=600, deadline=None)
@given(credential_names())
def test_credential_name_spellings(case):
    name, is_credential = case
    found = secretscan.sensitive_name(name)
    if is_credential:
        assert found is not None and found[1], name
    else:
        assert found is None, (name, found)


@pytest.mark.parametrize(
    ("name", "term"),
    [
        ("pwd", "pwd"),
        ("PWD", "pwd"),
        ("Pwd", "pwd"),
        ("pass", "pass"),
        ("PASSWD", "passwd"),
        ("pw", "pw"),
        ("DBPASS", "pass"),
        ("MYSQLPWD", "pwd"),
        ("rootpw", "pw"),
        ("pass1", "pass"),
        ("authorization", "authorization"),
        ("Proxy-Authorization", "authorization"),
        ("AUTH_HEADER", "authorization header"),
        ("authorizationHeader", "authorization header"),
        ("authheader", "authorization"),
        ("x-api-key", "api key"),
        ("X_API_KEY", "api key"),
        ("bearer", "bearer"),
    ],
)
def test_short_and_authorization_names(name, term):
    assert secretscan.sensitive_name(name) == (term, True)


@pytest.mark.parametrize(
    "name",
    [
        "bypass",
        "PROXY_BYPASS",
        "compass",
        "trespass",
        "proxypass",
        "NGINX_PROXY_PASS",
        "fastcgi_pass",
        "SSL_PASS_THROUGH",
        "password_file",
        "PASSWORDFILE",
        "pwdFile",
        "pass_path",
        "tokenUrl",
        "secretname",
        "AUTHORIZATION_MODE",
        "authorization_url",
        "TOKEN_HEADER",
        "API_KEY_HEADER",
        "PASSWORD_MD5",
        "PASSWORD_SHA256",
        "TOKENIZER",
        "passenger",
    ],
)
def test_names_that_only_point_at_or_describe_a_credential(name):
    assert secretscan.sensitive_name(name) is None


# ------------------------------------------------------------------------------------ values
NOT_CREDENTIALS = st.one_of(
    st.sampled_from(["", "  ", "true", "False", "yes", "off", "null", "~", "0", "3600", "1h", "30s", "1.5", "-1"]),
    st.from_regex(
        r"\$\([A-Z_]{1,10}\)|\$\{[A-Z_]{1,10}\}|\$[A-Z_]{1,10}|\{\{ \.Values\.[a-z]{1,8} \}\}", fullmatch=True
    ),
    st.from_regex(r"(?:/|\./|\.\./|~/)[a-z0-9/._-]{0,20}", fullmatch=True),
    st.sampled_from(
        ["<your-password>", "xxxxxxxx", "********", "REPLACE_ME", "changeme_TODO"[:0] + "TODO", "__PASSWORD__"]
    ),
)
LITERALS = st.from_regex(r"[a-z][A-Za-z0-9!#%+,-]{4,20}[0-9]", fullmatch=True)


@settings(max_examples=400, deadline=None)
@given(credential_names(), NOT_CREDENTIALS)
def test_values_that_cannot_be_credentials(case, value):
    name, _ = case
    assert not secretscan.literal_candidate(value, name), (name, value)


@settings(max_examples=400, deadline=None)
@given(credential_names(), LITERALS)
def test_literal_values_under_credential_names_are_credentials(case, value):
    name, is_credential = case
    # `tlsSecret: web-tls` names a Secret object (a lowercase DNS name with '-' or '/' under a name
    # ending in "secret"): by rule not a literal, tested in test_secret_object_names_are_not_credentials
    assume(not secretscan.names_secret_object(name, value))
    assert secretscan.literal_candidate(value, name), (name, value)
    hits = env_hits(name, value)
    assert bool(hits) == is_credential, (name, value, hits)


def test_secret_object_names_are_not_credentials():
    # under a name ending in "secret", a lowercase DNS name with '-' or '/' names a Secret object
    for name in ("tlsSecret", "CERTS_SECRET", "secret", "webhook-secret"):
        for value in ("ingress-tls", "kube-system/webhook-certs", "a000-0", "db-creds.v2"):
            assert not secretscan.literal_candidate(value, name), (name, value)
    # anything else under those names is a value like any other; and elsewhere the rule is off
    for value in ("s3cr3tValue9", "Ingress-TLS", "plainword7"):
        assert secretscan.literal_candidate(value, "tlsSecret"), value
    assert secretscan.literal_candidate("ingress-tls", "DB_PASSWORD")


def test_header_names_under_authorization_names_are_not_credentials():
    for name in ("AUTH_HEADER", "authorization", "x-api-key"):
        for value in ("Authorization", "X-Api-Key", "x-auth-token", "Proxy-Authorization"):
            assert not secretscan.literal_candidate(value, name), (name, value)
    # elsewhere a capitalised word is a value like any other
    assert secretscan.literal_candidate("Authorization", "DB_PASSWORD")


# ------------------------------------------------------------------------------------ Bearer / Basic
def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("Bearer s3cr3tT0ken12345", "HTTP Bearer token"),
        ("Authorization: bearer AbCdEfGhIjKlMnOp", "HTTP Bearer token"),
        ('curl -H "Authorization: Bearer 0123456789abcdef" https://x', "HTTP Bearer token"),
        ("Basic " + basic("admin", "hunter2"), "HTTP Basic credential"),
        ("Authorization: BASIC " + basic("svc", "Zq9-x"), "HTTP Basic credential"),
        # a JWT after Bearer is named precisely, once
        (
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "JSON Web Token",
        ),
    ],
)
def test_authorization_values_are_credentials(text, what):
    hits = secretscan.find_tokens(text)
    assert [h.what for h in hits] == [what]
    for h in hits:  # redacted: the scheme and the length, never the token
        assert h.shown.endswith("chars)") or h.shown.startswith("eyJ")
        assert text.split()[-1][-6:] not in h.shown


@pytest.mark.parametrize(
    "text",
    [
        "Bearer tokens are sent in the Authorization header",
        "Bearer $TOKEN",
        "Bearer ${TOKEN}",
        "Bearer $(cat /var/run/secrets/token)",
        "Bearer <token>",
        "Bearer YOUR_TOKEN_HERE",
        "Bearer xxxxxxxxxxxxxxxx",
        "Bearer short1",
        "Bearer abcdefghijklmnop",  # one lower-case word: prose, not a token
        'Basic realm="api"',
        "Basic authentication",
        "Basic " + base64.b64encode(b"no colon here").decode(),
        "Basic " + basic("user", ""),
        "Basic " + basic("user", "${PASSWORD}"),
        "basically fine",
    ],
)
def test_authorization_lookalikes_are_not(text):
    assert secretscan.find_tokens(text) == []


# ------------------------------------------------------------------------------------ through the checks
ENGINE = Engine(EngineSettings(check_ids=("KF-SEC-002", "KF-SEC-004"), keep_passed=True), REGISTRY)


def env_hits(name: str, value: str) -> list[str]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "x:1", "env": [{"name": name, "value": value}]}]},
    }
    return [o.message for o in ENGINE.check_object(pod) if o.check_id == "KF-SEC-002" and o.status.value == "failed"]


def configmap_outcome(data: dict[str, str]) -> tuple[str, str]:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": data}
    (o,) = [o for o in ENGINE.check_object(cm) if o.check_id == "KF-SEC-004"]
    return o.status.value, o.message


def test_shell_pwd_is_a_path_and_a_literal_pwd_is_a_credential():
    assert env_hits("PWD", "/srv/app") == []
    assert env_hits("PWD", "Pw7-literal-x") == [
        "container 'c': env PWD holds a literal value (****) under a credential name (pwd)"
    ]


ONE_LINE_VALUES = st.one_of(LITERALS, NOT_CREDENTIALS.filter(lambda v: v.strip() == v and v != ""))


@settings(max_examples=300, deadline=None)
@given(
    credential_names(),
    st.sampled_from(["=", ": ", " = ", ":"]),
    ONE_LINE_VALUES,
    st.sampled_from(["app.env", "db.properties", "settings", "config.ini"]),
)
def test_one_line_setting_is_read_like_the_same_line_of_a_file(case, sep, value, key):
    name, _ = case
    line = f"{name}{sep}{value}"
    status, message = configmap_outcome({key: line})
    multi_status, multi_message = configmap_outcome({key: f"{line}\nLOG_LEVEL=info\n"})
    assert status == multi_status, (line, message, multi_message)
    expect = secretscan.sensitive_name(name) is not None and secretscan.literal_candidate(value, name)
    assert (status == "failed") == expect, (line, message)
    if status == "failed":
        assert message == multi_message.replace(" line 1 ", " "), (message, multi_message)
        assert value not in message or value in name  # never the value


def test_one_line_settings_beside_whole_values():
    # the key itself is a credential name: the whole value is the credential
    assert configmap_outcome({"DB_PASSWORD": "a=b9-x"})[1] == (
        "ConfigMap key 'DB_PASSWORD' holds a literal value (****) under a credential name (password)"
    )
    # a known token format in a one-line setting is named precisely
    status, message = configmap_outcome({"app.env": "GITHUB_TOKEN=ghp_" + "Ab3" * 12})
    assert status == "failed" and "GitHub token" in message
    # Knative's _example key is documentation
    assert configmap_outcome({"_example": "password=Zz9-doc-only"})[0] == "passed"
    # a setting is judged as a setting: a pointer name is no credential, however random its value
    assert configmap_outcome({"app.env": "password_file=a123456789A0"})[0] == "passed"
    # base64 padding does not make a value a setting: a random token is still one
    status, message = configmap_outcome({"blob": "c2VjcmV0LXRva2VuLXZhbHVlOTk4ODc3NjY1NTQ0MzM="})
    assert status == "failed" and "random-looking base64 string" in message
