"""KF-IMG-001..006, KF-SEC-002..004, KF-RES-*: options, redaction, detectors and cross-file behaviour.

The per-check fixtures (tests/fixtures/checks/<ID>.yaml) are run by test_checks.py; this file covers
what a fixture cannot: check options (through `scan_file(..., options=...)` and through a real
`.kubefort.yaml` with the CLI), that no secret value ever reaches a report, and the detectors'
edge cases.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, scan_file
from kubefort.checks.image_registries import (
    ImageAllowOptions,
    ImageBlockOptions,
    deprecated_registry,
    matching_registry_entry,
)
from kubefort.checks.images import DEFAULT_FLOATING_TAGS, FloatingTagOptions, normalized_name, parse_image
from kubefort.config import ConfigError, make_options
from kubefort.kube import secretscan
from kubefort.registry import REGISTRY
from test_checks import _annotation, _expectations

CHECKS = FIXTURES / "checks"
OPTIONS_HEADER = re.compile(r"^# kubefort-test-options: (.*)$", re.MULTILINE)

# every secret value planted in the fixtures: none may appear in any output
FIXTURE_SECRETS = (
    "Xq9-fixture-pw-7731",
    "ghp_L7DxtpYlSXpfKtHF4vUCsMehGAkWvj7FAc9Q",
    "L7DxtpYlSXpfKtHF4vUC",
    "AKIAQ3FIXTUREKF7Z2XW",
    "Q3FIXTUREKF7Z2XW",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIi",
    "PtYgjmUhBel31iEl2hpChYgCfrL1spNxnyVmihA_2O7",
    "wR4y9ojfljoQoaF1LlqsajAIxNKu8iS2G8NPRVdD53X83RZJ",
    "Zr8fixturepw",
    "jORS/6ilI8ihN5KXSc7Tvo/hBKqFYY/kv5ZJr3J1",
    "init-fixture-s3cr3t",
    "located-fixture-pw-5518",
    "cm-fixture-pw-4412",
    "props-fixture-pw-9921",
    "Fx7KfixtureToken9",
    "1234567890-0987654321",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDfixturePemBody0",
    "DbinaryFixture",  # inside the base64 binaryData
    "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2",
    "Rb7fixturepw",
    "Pw7fixture-short-1",
    "Rt5fixture-concat-pw",
    "Rp2fixture-rootpw",
    "Bt4fixtureBearerTok9",
    "Zml4dHVyZS11c2VyOkJzOGZpeHR1cmUtYmFzaWMtcHc=",  # Basic fixture-user:Bs8fixture-basic-pw
    "Xk3fixtureapikey551",
    "Ah6fixture-header-cred",
    "Cm1fixture-oneline-pw",
    "Cm2fixture-oneline-pw",
    "Nb3fixtureScriptToken7",
)


def kf(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "kubefort", *args], capture_output=True, cwd=cwd, timeout=300, env=env)


def fixture_options(path: Path) -> dict:
    """Options a fixture declares in its `# kubefort-test-options: {...}` header, built as config does."""
    m = OPTIONS_HEADER.search(path.read_text())
    raw = json.loads(m.group(1)) if m else {}
    return {cid: make_options(REGISTRY.get(cid), v, path.name) for cid, v in raw.items()}


def outcomes_by_target(path: Path, check_id: str, options: dict | None = None) -> dict:
    meta = REGISTRY.get(check_id)
    actual: dict = defaultdict(dict)
    for o in scan_file(path, (check_id,), options=options):
        if o.check_id == check_id:
            actual[o.resource.name][o.container if meta.target == "container" else None] = o.status.value
    return dict(actual)


# ---------------------------------------------------------------------------------------------
# KF-IMG-004: the allow-list option
# ---------------------------------------------------------------------------------------------
def test_registry_allow_list_is_off_without_options():
    assert outcomes_by_target(CHECKS / "KF-IMG-004.yaml", "KF-IMG-004") == {}


def test_registry_allow_list_fixture_with_options():
    path = CHECKS / "KF-IMG-004.yaml"
    opts = fixture_options(path)
    assert isinstance(opts["KF-IMG-004"], ImageAllowOptions)
    assert outcomes_by_target(path, "KF-IMG-004", opts) == _expectations(path)
    # what test_checks.py checks for every fixture, here with the options applied
    for o in scan_file(path, ("KF-IMG-004",), options=opts):
        if o.check_id != "KF-IMG-004" or o.status.value != "failed":
            continue
        assert o.location is not None and o.location.line is not None and o.fingerprint
        line = _annotation(path, o.resource.name, "test.kubefort.io/line")
        msg = _annotation(path, o.resource.name, "test.kubefort.io/message")
        assert not line or o.location.line == int(line)
        assert not msg or msg in o.message


def test_registry_allow_list_with_scan_file_options():
    path = CHECKS / "KF-IMG-004.yaml"
    got = outcomes_by_target(path, "KF-IMG-004", {"KF-IMG-004": ImageAllowOptions(allowed_registries=("docker.io",))})
    reg = got["registries"]
    assert reg["official"] == reg["hub-user"] == reg["legacy-hub"] == "passed"
    assert reg["org"] == reg["ecr"] == reg["private"] == "failed"


@pytest.mark.parametrize(
    "name,allowed,ok",
    [
        ("docker.io/library/nginx", ("docker.io/library",), True),
        ("docker.io/bitnami/redis", ("docker.io/library",), False),
        ("ghcr.io/acme/app", ("ghcr.io/acme",), True),
        ("ghcr.io/acme", ("ghcr.io/acme",), True),
        ("ghcr.io/acme-evil/app", ("ghcr.io/acme",), False),
        ("registry.example.com.evil.io/app", ("registry.example.com",), False),
        ("registry.example.com:5000/app", ("registry.example.com",), False),
        ("registry.example.com:5000/app", ("registry.example.com:5000",), True),
        ("1234.dkr.ecr.eu-west-1.amazonaws.com/app", ("*.dkr.ecr.eu-west-1.amazonaws.com",), True),
        ("dkr.ecr.eu-west-1.amazonaws.com/app", ("*.dkr.ecr.eu-west-1.amazonaws.com",), False),
        ("evildkr.ecr.eu-west-1.amazonaws.com/app", ("*.dkr.ecr.eu-west-1.amazonaws.com",), False),
        ("docker.io/library/busybox", ("index.docker.io/library/",), True),
    ],
)
def test_registry_allowed_matches_whole_components(name, allowed, ok):
    assert (matching_registry_entry(name, allowed) is not None) is ok


@pytest.mark.parametrize(
    "image,name",
    [
        ("nginx", "docker.io/library/nginx"),
        ("nginx:1.27", "docker.io/library/nginx"),
        ("bitnami/redis:7", "docker.io/bitnami/redis"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox"),
        ("Registry.Example.com/team/app:1", "registry.example.com/team/app"),
        ("localhost:5000/app@sha256:" + "a" * 64, "localhost:5000/app"),
    ],
)
def test_normalized_name(image, name):
    assert normalized_name(parse_image(image)) == name


@pytest.mark.parametrize(
    "entry", ["https://registry.example.com", "ghcr.io/acme/app:1.0", "ghcr.io/acme@sha256:abc", "", "Ghcr.io/ACME"]
)
def test_malformed_allow_list_entries_are_config_errors(entry):
    with pytest.raises(ConfigError):
        make_options(REGISTRY.get("KF-IMG-004"), {"allowed_registries": [entry]}, "test")
    with pytest.raises(ConfigError):
        make_options(REGISTRY.get("KF-IMG-004"), {"allowed_registries": "ghcr.io"}, "test")


POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  containers:
  - name: app
    image: ghcr.io/acme/web:1.0
  - name: proxy
    image: docker.io/someone/proxy:2.0
"""


def test_registry_allow_list_from_kubefort_yaml_with_the_cli(tmp_path: Path):
    (tmp_path / "pod.yaml").write_text(POD)
    (tmp_path / ".kubefort.yaml").write_text("options:\n  KF-IMG-004:\n    allowed_registries: [ghcr.io/acme]\n")
    p = kf("scan", str(tmp_path), "--checks", "KF-IMG-004", "-o", "json", "--include-passed", "--fail-on", "never")
    assert p.returncode == 0, p.stderr.decode()
    res = {r["container"]: r for r in json.loads(p.stdout)["results"] if r["check_id"] == "KF-IMG-004"}
    assert res["app"]["outcome"] == "passed"
    assert res["proxy"]["outcome"] == "failed"
    assert "docker.io/someone/proxy" in res["proxy"]["message"]
    # without the config file the check is off: no outcome at all
    p = kf(
        "scan",
        str(tmp_path),
        "--no-config",
        "--checks",
        "KF-IMG-004",
        "-o",
        "json",
        "--include-passed",
        "--fail-on",
        "never",
    )
    assert p.returncode == 0
    assert [r for r in json.loads(p.stdout)["results"] if r["check_id"] == "KF-IMG-004"] == []


def test_bad_allow_list_in_kubefort_yaml_is_a_usage_error(tmp_path: Path):
    (tmp_path / "pod.yaml").write_text(POD)
    (tmp_path / ".kubefort.yaml").write_text("options:\n  KF-IMG-004:\n    allowed_registries: [https://ghcr.io]\n")
    p = kf("scan", str(tmp_path), "-o", "json")
    assert p.returncode == 2
    assert b"allowed_registries" in p.stderr


def test_deprecated_registry_prefixes():
    assert deprecated_registry("k8s.gcr.io/pause") is not None
    assert deprecated_registry("gcr.io/google_containers/pause") is not None
    assert deprecated_registry("gcr.io/google-containers-extra/pause") is None
    assert deprecated_registry("gcr.io/my-project/app") is None
    assert deprecated_registry("registry.k8s.io/pause") is None


# ---------------------------------------------------------------------------------------------
# KF-IMG-006: the block-list option, beside the allow-list
# ---------------------------------------------------------------------------------------------
def test_registry_block_list_is_off_without_options():
    assert outcomes_by_target(CHECKS / "KF-IMG-006.yaml", "KF-IMG-006") == {}


def test_registry_block_list_fixture_with_options():
    path = CHECKS / "KF-IMG-006.yaml"
    opts = fixture_options(path)
    assert isinstance(opts["KF-IMG-006"], ImageBlockOptions)
    assert outcomes_by_target(path, "KF-IMG-006", opts) == _expectations(path)


def test_allow_and_block_lists_together(tmp_path: Path):
    """Allow docker.io, block one organisation on it: an image must be allowed and not blocked."""
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "  - {name: ok, image: 'nginx:1.27.3'}\n"
        "  - {name: blocked, image: 'untrusted/app:1.0'}\n"
        "  - {name: elsewhere, image: 'ghcr.io/acme/app:1.0'}\n"
    )
    (tmp_path / ".kubefort.yaml").write_text(
        "options:\n  KF-IMG-004: {allowed_registries: [docker.io]}\n"
        "  KF-IMG-006: {blocked_registries: [docker.io/untrusted]}\n"
    )
    p = kf(
        "scan",
        str(tmp_path),
        "--checks",
        "KF-IMG-004,KF-IMG-006",
        "-o",
        "json",
        "--include-passed",
        "--fail-on",
        "never",
    )
    assert p.returncode == 0, p.stderr.decode()
    got = {
        (r["check_id"], r["container"]): r["outcome"]
        for r in json.loads(p.stdout)["results"]
        if r["check_id"].startswith("KF-IMG")
    }
    assert got == {
        ("KF-IMG-004", "ok"): "passed",
        ("KF-IMG-004", "blocked"): "passed",
        ("KF-IMG-004", "elsewhere"): "failed",
        ("KF-IMG-006", "ok"): "passed",
        ("KF-IMG-006", "blocked"): "failed",
        ("KF-IMG-006", "elsewhere"): "passed",
    }


@pytest.mark.parametrize(
    "entry",
    [
        "https://quay.io",
        "quay.io/acme/app:1.0",
        "quay.io/acme@sha256:abc",
        "",
        "Quay.io/ACME",
        "quay.io//acme",
        "-x.io",
    ],
)
def test_malformed_block_list_entries_are_config_errors(entry):
    with pytest.raises(ConfigError, match="blocked_registries"):
        make_options(REGISTRY.get("KF-IMG-006"), {"blocked_registries": [entry]}, "test")


# ---------------------------------------------------------------------------------------------
# KF-IMG-001 / KF-IMG-003: the floating-tag list
# ---------------------------------------------------------------------------------------------
FLOATING_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - {name: untagged, image: nginx}
  - {name: latest, image: 'nginx:latest'}
  - {name: main, image: 'ghcr.io/acme/app:main'}
  - {name: prod, image: 'ghcr.io/acme/app:prod'}
  - {name: prod-upper, image: 'ghcr.io/acme/app:PROD', imagePullPolicy: IfNotPresent}
  - {name: prod-pinned, image: 'ghcr.io/acme/app:prod@sha256:0a399eb16751829e1af26fea27b20c3ec28d7ab1fb72182879dcae1cca21206a'}
"""


def test_default_floating_tags_are_valid_tags_in_lower_case():
    assert FloatingTagOptions().floating_tags == DEFAULT_FLOATING_TAGS
    assert "latest" in DEFAULT_FLOATING_TAGS and {"main", "master", "stable", "edge", "nightly", "dev"} <= set(
        DEFAULT_FLOATING_TAGS
    )
    assert all(t == t.lower() for t in DEFAULT_FLOATING_TAGS)
    assert len(set(DEFAULT_FLOATING_TAGS)) == len(DEFAULT_FLOATING_TAGS)


@pytest.mark.parametrize(
    ("check_id", "expected"),
    [
        # a custom list without latest: untagged and :latest pass; prod (any case) is floating
        (
            "KF-IMG-001",
            {
                "untagged": "passed",
                "latest": "passed",
                "main": "passed",
                "prod": "failed",
                "prod-upper": "failed",
                "prod-pinned": "passed",
            },
        ),
        # KF-IMG-003: the unset policy of :prod defaults to IfNotPresent; untagged would default to Always
        (
            "KF-IMG-003",
            {
                "untagged": "passed",
                "latest": "passed",
                "main": "passed",
                "prod": "failed",
                "prod-upper": "failed",
                "prod-pinned": "passed",
            },
        ),
    ],
)
def test_floating_tags_option(tmp_path: Path, check_id, expected):
    path = tmp_path / "pod.yaml"
    path.write_text(FLOATING_POD)
    opts = {check_id: make_options(REGISTRY.get(check_id), {"floating_tags": ["prod"]}, "test")}
    assert outcomes_by_target(path, check_id, opts) == {"p": expected}
    # the defaults: untagged, latest and main float; prod does not
    default = outcomes_by_target(path, check_id)["p"]
    assert default["main"] == "failed" and default["prod"] == "passed" and default["prod-pinned"] == "passed"
    assert default["untagged"] == ("failed" if check_id == "KF-IMG-001" else "passed")  # Always by default


def test_floating_tags_from_kubefort_yaml_with_the_cli(tmp_path: Path):
    (tmp_path / "pod.yaml").write_text(FLOATING_POD)
    (tmp_path / ".kubefort.yaml").write_text("options:\n  KF-IMG-001:\n    floating_tags: [prod]\n")
    p = kf("scan", str(tmp_path), "--checks", "KF-IMG-001", "-o", "json", "--include-passed", "--fail-on", "never")
    assert p.returncode == 0, p.stderr.decode()
    res = {r["container"]: r for r in json.loads(p.stdout)["results"]}
    assert res["prod"]["outcome"] == "failed" and res["main"]["outcome"] == "passed"
    assert "with the floating tag 'prod'" in res["prod"]["message"]


@pytest.mark.parametrize("tag", ["-latest", ".x", "a b", "", "x" * 129, "main:1", "a/b"])
def test_malformed_floating_tags_are_config_errors(tag):
    for check_id in ("KF-IMG-001", "KF-IMG-003"):
        with pytest.raises(ConfigError, match="floating_tags"):
            make_options(REGISTRY.get(check_id), {"floating_tags": [tag]}, "test")


# ---------------------------------------------------------------------------------------------
# every image check reads references with kubefort.kube.imageref: generated images
# ---------------------------------------------------------------------------------------------
IMAGE_CHECKS = ("KF-IMG-001", "KF-IMG-002", "KF-IMG-003", "KF-IMG-004", "KF-IMG-005", "KF-IMG-006")
ALL_ON = {
    "KF-IMG-004": ImageAllowOptions(allowed_registries=("docker.io/library",)),
    "KF-IMG-006": ImageBlockOptions(blocked_registries=("docker.io/untrusted",)),
}
_HEX = "0123456789abcdefABCDEF"
image_text = st.one_of(
    st.builds(
        lambda name, tag, alg, digits: name + tag + (f"@{alg}:{digits}" if alg else ""),
        st.sampled_from(["nginx", "untrusted/app", "ghcr.io/acme/app", "k8s.gcr.io/pause", "Ghcr.io/acme/app", "a//b"]),
        st.sampled_from(["", ":latest", ":main", ":1.2", ":-x", ":LATEST"]),
        st.sampled_from([None, "sha256", "sha384", "sha512", "md5", "SHA256", "blake3"]),
        st.text(_HEX, min_size=30, max_size=130),
    ),
    st.text(max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(image_text)
def test_image_checks_judge_any_reference_as_the_kubelet_would(text):
    from kubefort.engine import Engine, EngineSettings
    from kubefort.kube import imageref

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": text}]},
    }
    engine = Engine(EngineSettings(check_ids=IMAGE_CHECKS, options=ALL_ON, keep_passed=True), REGISTRY)
    outs = {o.check_id: o for o in engine.check_object(pod)}
    assert set(outs) == set(IMAGE_CHECKS), text
    try:
        ref = imageref.parse_normalized(text)
        error = None
    except imageref.ImageRefError as exc:
        ref, error = exc.without_digest, exc
    for cid, o in outs.items():
        if ref is None:  # the kubelet cannot read a name: not evaluated, with the grammar's reason
            assert o.status.value == "not-evaluated", (cid, text, o.message)
            assert error is not None
            assert error.reason in o.message or "template placeholder" in o.message, o.message
        else:
            assert o.status.value in ("passed", "failed"), (cid, text, o.message)
    if ref is not None:
        pinned = error is None and ref.digest is not None
        assert (outs["KF-IMG-002"].status.value == "passed") == pinned, text
        if not pinned and ref.digest is None and error is not None:
            assert error.reason in outs["KF-IMG-002"].message  # says why the digest pins nothing


def test_parse_image_reads_what_the_kubelet_reads_and_never_raises():
    ref = parse_image("Registry.Example.com/team/app:1.0@sha256:" + "a" * 64)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        "Registry.Example.com",
        "team/app",
        "1.0",
        "sha256:" + "a" * 64,
    )
    # a digest the kubelet refuses is dropped (it pins nothing)
    assert parse_image("nginx:1.0@md5:" + "a" * 32).digest is None
    # names that are not references at all are still split, for name-based checks
    assert parse_image("{{ .Values.image }}").repository == "{{ .Values.image }}"
    assert parse_image("ko://github.com/acme/app").tag is None


# ---------------------------------------------------------------------------------------------
# secrets: never in any output
# ---------------------------------------------------------------------------------------------
def test_fixture_secrets_are_really_in_the_fixtures():
    text = "".join((CHECKS / f).read_text() for f in ("KF-SEC-002.yaml", "KF-SEC-004.yaml"))
    text += "".join(base64.b64decode(b).decode() for b in re.findall(r"client\.key: (\S+)", text))
    for s in FIXTURE_SECRETS:
        assert s in text, s


def test_no_secret_value_in_any_report(tmp_path: Path):
    outs = {fmt: tmp_path / f"report.{fmt}" for fmt in ("json", "sarif", "table", "junit")}
    args = [
        "scan",
        str(CHECKS / "KF-SEC-002.yaml"),
        str(CHECKS / "KF-SEC-004.yaml"),
        "--fail-on",
        "never",
        "--allow-incomplete",
        "--include-passed",
        "--no-color",
    ]
    for fmt, path in outs.items():
        args += ["-o", f"{fmt}={path}"]
    p = kf(*args)
    assert p.returncode == 0, p.stderr.decode()
    everything = p.stdout.decode() + p.stderr.decode()
    for fmt, path in outs.items():
        text = path.read_text()
        assert text.strip(), fmt
        everything += text
    report = json.loads(outs["json"].read_text())
    failed = [
        r for r in report["results"] if r["check_id"] in ("KF-SEC-002", "KF-SEC-004") and r["outcome"] == "failed"
    ]
    assert len(failed) >= 10
    for s in FIXTURE_SECRETS:
        assert s not in everything, f"secret {s!r} leaked into a report"


def test_redacted_forms_in_messages():
    msgs = " ".join(o.message for o in scan_file(CHECKS / "KF-SEC-002.yaml", ("KF-SEC-002",)))
    assert "GitHub token (ghp_…(40 chars))" in msgs
    assert "AWS access key ID (AKIA…(20 chars))" in msgs
    assert "JSON Web Token (eyJ…(" in msgs
    assert "RSA private key (PEM) (-----BEGIN RSA PRIVATE KEY----- …)" in msgs
    assert "URL with an embedded password (postgres://****@db.internal:5432)" in msgs
    assert "a random-looking base64 string (****, 40 chars)" in msgs
    assert "a common default password (****)" in msgs
    assert "an HTTP Bearer token (Bearer …(20 chars))" in msgs
    assert "an HTTP Basic credential (Basic …(44 chars))" in msgs


def test_hit_shown_never_contains_the_secret_part():
    samples = [
        "ghp_" + "Ab3" * 12,
        "github_pat_" + "x9Y_" * 10,
        "glpat-" + "aB3dE6gH9jK2mN5pQ8sT",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc",
        "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
        "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
        "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz12345678",
        "ASIA" + "Y34FZKBOKMUTVV7A",
        "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + "Q" * 30 + "z9" * 30 + "==",
    ]
    for s in samples:
        hits = secretscan.find_tokens(f"value: {s}\n")
        assert hits, s
        for h in hits:
            secret_part = s[-12:]
            assert secret_part not in h.shown, (s, h.shown)


# ---------------------------------------------------------------------------------------------
# the detectors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,expected",
    [
        ("DB_PASSWORD", ("password", True)),
        ("dbPassword", ("password", True)),
        ("DBPASSWORD", ("password", True)),
        ("MYSQL_ROOT_PASSWD", ("passwd", True)),
        ("RABBITMQ_DEFAULT_PASS", ("pass", True)),
        ("clientSecret", ("secret", True)),
        ("GITHUB_TOKEN", ("token", True)),
        ("authToken", ("token", True)),
        ("API_KEY", ("api key", True)),
        ("apiKey", ("api key", True)),
        ("APIKEY", ("apikey", True)),
        ("AZURE_STORAGE_ACCOUNT_KEY", ("account key", True)),
        ("REDIS_AUTH", ("auth", True)),
        ("AWS_CREDENTIALS", ("credentials", True)),
        ("TLS_KEY", ("key", False)),
        ("HMAC_KEY", ("hmac key", True)),
        ("CACHE_KEY", ("key", False)),
        ("DB_PASSWORD_FILE", None),
        ("API_TOKEN_URL", None),
        ("TLS_SECRET_NAME", None),
        ("BASIC_AUTH_USERNAME", None),
        ("PASSWORD_MIN_LENGTH", None),
        ("TOKEN_TTL", None),
        ("AUTH_TYPE", None),
        ("GF_AUTH_ANONYMOUS_ENABLED", None),
        ("JWT_PUBLIC_KEY", None),
        ("AWS_ACCESS_KEY_ID", None),
        # a credential name; the shell's PWD holds a path, which literal_candidate rules out
        ("PWD", ("pwd", True)),
        ("NGINX_PROXY_PASS", None),
        ("SSL_PASS_THROUGH", None),
        ("TOKENIZER", None),
        ("LOG_LEVEL", None),
    ],
)
def test_sensitive_name(name, expected):
    assert secretscan.sensitive_name(name) == expected


@pytest.mark.parametrize(
    "value,ok",
    [
        ("hunter2", True),
        ("t0p$ecreT", True),
        ("changeme", True),
        ("", False),
        ("   ", False),
        ("$(DB_PASSWORD)", False),
        ("${DB_PASSWORD}", False),
        ("$DB_PASSWORD", False),
        ("{{ .Values.password }}", False),
        ("postgres://u:$(P)@db/app", False),
        ("/run/secrets/db", False),
        ("https://auth.example.com/token", False),
        ("true", False),
        ("yes", False),
        ("3600", False),
        ("1h", False),
        ("<your-token>", False),
        ("xxxxxx", False),
        ("REPLACE_ME", False),
        ("INSERT_ETCD_DISCOVERY_TOKEN", False),
        ("__SERVICEACCOUNT_TOKEN__", False),
    ],
)
def test_literal_candidate(value, ok):
    assert secretscan.literal_candidate(value) is ok


def test_value_equal_to_name_and_secret_object_names_are_not_literals():
    assert not secretscan.literal_candidate("HF_TOKEN", "HF_TOKEN")
    assert not secretscan.literal_candidate("ingress-tls", "TLS_SECRET")
    assert not secretscan.literal_candidate("kube-system/webhook-certs", "certsSecret")
    assert secretscan.literal_candidate("mysecret", "JWT_SECRET")


def test_high_entropy_limits():
    assert secretscan.high_entropy("jORS/6ilI8ihN5KXSc7Tvo/hBKqFYY/kv5ZJr3J1") == "base64"
    assert secretscan.high_entropy("my-cluster-clients-ca-bundle") is None
    assert secretscan.high_entropy("3c0d9c0320bb34888c2df5757c718ce6ca992ce6") == "hex"
    assert secretscan.high_entropy("3c0d9c0320bb34888c2df5757c718ce6ca992ce6", allow_hex=False) is None
    assert secretscan.high_entropy("11111111111111111111111") is None
    assert secretscan.high_entropy("short1A") is None


def test_pem_needs_a_body_and_certificates_are_not_keys():
    assert secretscan.find_tokens("-----BEGIN PRIVATE KEY-----\n<paste your key here>\n-----END PRIVATE KEY-----") == []
    assert secretscan.find_tokens("-----BEGIN CERTIFICATE-----\n" + "A" * 64 + "\n-----END CERTIFICATE-----") == []
    assert secretscan.decoded_pem_hits("not base64") is None


def test_assignments_in_embedded_files():
    text = 'a: 1\npassword: "quoted pw"\nexport API_TOKEN=abc123\n"clientSecret": "s3cr3t",\nnote: some prose here\ntoken = os.environ["X"]\n'
    got = [(n, v, secretscan.line_of(text, off)) for n, v, off in secretscan.assignments(text)]
    assert ("password", "quoted pw", 2) in got
    assert ("API_TOKEN", "abc123", 3) in got
    assert ("clientSecret", "s3cr3t", 4) in got
    assert not any(n in ("note", "token") for n, _, _ in got)


# ---------------------------------------------------------------------------------------------
# KF-RES-006/007 across files
# ---------------------------------------------------------------------------------------------
def test_namespace_quota_in_another_file_of_the_scan(tmp_path: Path):
    (tmp_path / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n")
    (tmp_path / "quota.yaml").write_text(
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: compute\n  namespace: shop\nspec:\n  hard: {requests.cpu: '4', pods: '20'}\n"
    )
    p = kf(
        "scan",
        str(tmp_path),
        "--checks",
        "KF-RES-006,KF-RES-007",
        "-o",
        "json",
        "--include-passed",
        "--fail-on",
        "never",
    )
    res = {r["check_id"]: r["outcome"] for r in json.loads(p.stdout)["results"]}
    # KF-INPUT-005 (apiVersion serves the kind) always runs, like every KF-INPUT check
    assert res == {"KF-RES-006": "passed", "KF-RES-007": "failed", "KF-INPUT-005": "passed"}


def test_ephemeral_containers_get_no_resource_outcome():
    outs = scan_file(CHECKS / "KF-RES-001.yaml", tuple(f"KF-RES-00{i}" for i in range(1, 6)))
    assert not [o for o in outs if o.container == "debug"]
