"""`kubefort admission serve` and `install`: the webhook over real TLS on loopback (uvicorn in a
thread, the same app and certificate handling the command runs), without a cluster.

What is pinned: the verdict and messages equal `kubefort scan`'s for the same object and config;
modes by severity, per check and per namespace label; exceptions and inline annotations; bad
requests answered 400/404/405 and counted, never a crash; the certificate reloaded from disk;
the metrics; the webhook configuration `install` prints; the chart with the webhook enabled.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES, ROOT, scan_file, tool_missing
from kubefort.admission import install as inst
from kubefort.admission.build import admission_checks, build_judge
from kubefort.admission.cache import StaticNamespaces, parse_namespace_labels
from kubefort.admission.context import not_run_at_admission, runs_with_cache
from kubefort.admission.judge import bookkeeping_only
from kubefort.admission.metrics import AdmissionMetrics
from kubefort.admission.policy import (
    DEFAULT_LEVELS,
    MODES,
    Levels,
    PolicyError,
    levels_for,
    modes_for,
    parse_settings,
)
from kubefort.admission.render import WARNING_RUNES, WARNINGS_TOTAL
from kubefort.admission.server import AdmissionApp, bind, make_server
from kubefort.admission.tls import ReloadEvents, ReloadingCertificate
from kubefort.cli import cli
from kubefort.config import ConfigError, load_config
from kubefort.model import Severity, Status
from kubefort.registry import REGISTRY

PRIVILEGED_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "root", "namespace": "shop"},
    "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "securityContext": {"privileged": True}}]},
}
DEPLOYMENT = yaml.safe_load((ROOT / "bench" / "data" / "deployment.yaml").read_text())


# ------------------------------------------------------------------ certificates and a server


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@dataclass
class CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    path: Path

    def issue(self, d: Path, cn: str) -> tuple[Path, Path]:
        """A server certificate for 127.0.0.1 named `cn`: (cert file, key file) in `d`."""
        now = dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        crt, k = d / f"{cn}.crt", d / f"{cn}.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        k.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return crt, k


def new_ca(d: Path) -> CA:
    """A throw-away CA (ECDSA P-256) whose certificate is `d/ca.crt`."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("kubefort-test-ca"))
        .issuer_name(_name("kubefort-test-ca"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (d / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CA(key, cert, d / "ca.crt")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CA:
    return new_ca(tmp_path_factory.mktemp("ca"))


@dataclass
class Webhook:
    port: int
    ca: Path
    app: AdmissionApp
    server: Any
    thread: threading.Thread
    cert: ReloadingCertificate
    metrics: AdmissionMetrics
    uids: Iterator[int] = field(default_factory=lambda: iter(range(1, 1_000_000)))

    def connect(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=ssl.create_default_context(cafile=self.ca))

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        conn = self.connect()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def review(
        self,
        obj: Any,
        *,
        namespace: str | None = "",
        operation: str = "CREATE",
        old: Any = None,
        dry_run: bool = False,
        sub_resource: str = "",
    ) -> dict[str, Any]:
        """POST an AdmissionReview of `obj`; the `response` (its uid checked)."""
        if namespace == "":
            namespace = ((obj or {}).get("metadata") or {}).get("namespace")
        uid = f"uid-{next(self.uids)}"
        status, body = self.request(
            "POST",
            "/validate?timeout=5s",
            json.dumps(review(obj, uid, namespace, operation, old, dry_run, sub_resource)).encode(),
            {"Content-Type": "application/json"},
        )
        assert status == 200, body
        doc = json.loads(body)
        assert doc["apiVersion"] == "admission.k8s.io/v1" and doc["kind"] == "AdmissionReview"
        response: dict[str, Any] = doc["response"]
        assert response.pop("uid") == uid
        return response

    def metric(self, name: str, **labels: str) -> float:
        from prometheus_client.parser import text_string_to_metric_families

        status, body = self.request("GET", "/metrics")
        assert status == 200
        for fam in text_string_to_metric_families(body.decode()):
            for s in fam.samples:
                if s.name == name and s.labels == labels:
                    return float(s.value)
        return 0.0

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def review(
    obj: Any,
    uid: str = "uid-1",
    namespace: str | None = None,
    operation: str = "CREATE",
    old: Any = None,
    dry_run: bool = False,
    sub_resource: str = "",
) -> dict[str, Any]:
    kind = (obj or {}).get("kind", "") if isinstance(obj, dict) else ""
    req: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": kind},
        "resource": {"group": "", "version": "v1", "resource": kind.lower() + "s"},
        "name": ((obj or {}).get("metadata") or {}).get("name", "") if isinstance(obj, dict) else "",
        "operation": operation,
        "userInfo": {"username": "alice"},
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
    }
    if namespace is not None:
        req["namespace"] = namespace
    if sub_resource:
        req["subResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


StartWebhook = Callable[..., Webhook]


def _stacks() -> list[Any]:
    """(HTTP parser, loop) pairs the server runs on: h11 + asyncio always; httptools and uvloop
    when installed (the command prefers them)."""
    import importlib.util

    out: list[Any] = [("h11", "asyncio")]
    for parser, loop in (("httptools", "asyncio"), ("httptools", "uvloop"), ("h11", "uvloop")):
        missing = sorted(m for m in {parser, loop} - {"h11", "asyncio"} if importlib.util.find_spec(m) is None)
        marks = [pytest.mark.skip(reason=f"{', '.join(missing)} not installed")] if missing else []
        out.append(pytest.param((parser, loop), marks=marks))
    return out


STACKS = _stacks()


@pytest.fixture
def webhook(ca: CA, tmp_path: Path) -> Iterator[StartWebhook]:
    running: list[Webhook] = []

    def start(
        config: str | None = None,
        labels: dict[str, dict[str, str]] | None = None,
        levels: dict[str, str] | None = None,
        cache: Any = None,
        max_body: int = 1 << 20,
        select: tuple[str, ...] = (),
        cert: tuple[Path, Path] | None = None,
        stack: tuple[str, str] | None = None,
    ) -> Webhook:
        cfg = None
        if config is not None:
            p = tmp_path / f"kubefort-{len(running)}.yaml"
            p.write_text(config)
            cfg = load_config(p, REGISTRY)
        from kubefort.admission.policy import parse_level

        use_cache = cache is not None and cache.live
        ids = admission_checks(REGISTRY, cfg, select, cache=use_cache)
        judge = build_judge(
            REGISTRY, cfg, ids, {m: parse_level(v) for m, v in (levels or {}).items()}, context=use_cache
        )
        metrics = AdmissionMetrics()
        crt, key = cert or ca.issue(tmp_path, f"server-{len(running)}")
        rc = ReloadingCertificate(
            str(crt),
            str(key),
            ReloadEvents(
                loaded=lambda e, r: metrics.certificate_loaded(e, reload=r),
                failed=lambda: metrics.errors.labels("tls-reload").inc(),
            ),
        )
        app = AdmissionApp(judge, cache or StaticNamespaces(labels), metrics, max_body)
        sock = bind("127.0.0.1", 0)
        server = make_server(app, rc, http=stack[0], loop=stack[1]) if stack else make_server(app, rc)
        t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        t.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the webhook did not start"
            time.sleep(0.01)
        w = Webhook(sock.getsockname()[1], ca.path, app, server, t, rc, metrics)
        running.append(w)
        return w

    yield start
    for w in running:
        w.stop()


def failed_ids(response: dict[str, Any]) -> list[str]:
    return [c["reason"] for c in response.get("status", {}).get("details", {}).get("causes", [])]


# ------------------------------------------------------------------ modes


def test_enforce_denies_with_each_check_field_and_fix(webhook: StartWebhook) -> None:
    w = webhook()
    r = w.review(PRIVILEGED_POD)
    assert r["allowed"] is False
    status = r["status"]
    assert status["code"] == 403 and status["reason"] == "Forbidden"
    # default levels: enforce high; the privileged container (critical) and the PSS baseline
    # violation (high) and privilege escalation (high) are denied
    assert set(failed_ids(r)) == {"KF-POD-001", "KF-PSS-001", "KF-POD-005"}
    msg = status["message"]
    assert msg.startswith("kubefort: Pod root fails 3 checks enforced at high and above (namespace shop):\n")
    line = next(x for x in msg.splitlines() if x.startswith("- KF-POD-001"))
    assert line == (
        "- KF-POD-001 privileged-container (critical): container 'app' sets securityContext.privileged=true "
        "[spec.containers[0].securityContext.privileged]. Fix: " + REGISTRY.get("KF-POD-001").remediation
    )
    causes = {c["reason"]: c for c in status["details"]["causes"]}
    assert causes["KF-POD-001"] == {
        "reason": "KF-POD-001",
        "message": "container 'app' sets securityContext.privileged=true",
        "field": "spec.containers[0].securityContext.privileged",
    }
    assert len(msg) < 4000
    # denied findings are not repeated as warnings; medium ones are warned; low ones audited
    assert not any("KF-POD-001" in x for x in r["warnings"])
    assert any(x.startswith("kubefort KF-POD-007 writable-root-filesystem (medium):") for x in r["warnings"])
    audit = r["auditAnnotations"]["audit-violations"]
    assert "KF-RES-001 cpu-request-missing (low)" in audit and "KF-POD-001 privileged-container (critical)" in audit


def test_clean_object_is_allowed_with_nothing_to_say(webhook: StartWebhook) -> None:
    w = webhook(levels={"enforce": "info", "warn": "info", "audit": "off"}, select=("KF-POD-001",))
    ok = {**PRIVILEGED_POD, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}
    assert w.review(ok) == {"allowed": True}


@pytest.mark.parametrize(
    ("labels", "allowed", "warned"),
    [
        ({}, False, False),  # the defaults: enforce high
        ({"kubefort.io/enforce": "off"}, True, True),  # warn-only rollout: the failure is warned instead
        ({"kubefort.io/enforce": "off", "kubefort.io/warn": "off"}, True, False),
        ({"kubefort.io/enforce": "critical"}, False, False),
    ],
)
def test_namespace_labels_set_the_levels(
    webhook: StartWebhook, labels: dict[str, str], allowed: bool, warned: bool
) -> None:
    w = webhook(labels={"shop": labels}, select=("KF-POD-001",))
    r = w.review(PRIVILEGED_POD)
    assert r["allowed"] is allowed
    assert any("KF-POD-001" in x for x in r.get("warnings", [])) is warned
    # another namespace keeps the defaults
    other = {**PRIVILEGED_POD, "metadata": {"name": "root", "namespace": "other"}}
    assert w.review(other)["allowed"] is False


def test_namespace_label_low_enforces_low_findings(webhook: StartWebhook) -> None:
    w = webhook(labels={"shop": {"kubefort.io/enforce": "low"}}, select=("KF-RES-001",))
    pod = {**PRIVILEGED_POD, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}
    assert failed_ids(w.review(pod)) == ["KF-RES-001"]
    assert w.review({**pod, "metadata": {"name": "p", "namespace": "other"}}).get("allowed") is True


def test_invalid_namespace_label_enforces_at_info_and_says_why(webhook: StartWebhook) -> None:
    """As Pod Security Admission does with an invalid level: the strictest, and the reason."""
    w = webhook(labels={"shop": {"kubefort.io/enforce": "hihg"}}, select=("KF-RES-001",))
    pod = {**PRIVILEGED_POD, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}
    r = w.review(pod)
    assert failed_ids(r) == ["KF-RES-001"]
    why = "namespace label kubefort.io/enforce: 'hihg' is not a level"
    assert why in r["status"]["message"]
    assert any(why in x for x in r["warnings"])


def test_config_sets_default_levels_per_check_and_per_namespace(webhook: StartWebhook) -> None:
    w = webhook(
        config="""
admission:
  enforce: critical
  warn: off
  audit: off
  checks:
    KF-IMG-001: enforce      # medium, but denied
    KF-POD-001: warn         # critical, but only warned
    mutable-image-tag: enforce
  namespaces:
    legacy: {enforce: off, warn: low}
""",
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"containers": [{"name": "app", "image": "nginx:latest", "securityContext": {"privileged": True}}]},
    }
    r = w.review(pod)
    assert failed_ids(r) == ["KF-IMG-001"]
    assert "warnings" not in r  # warn is off by default, and KF-POD-001's "warn" needs warn on
    legacy = w.review({**pod, "metadata": {"name": "p", "namespace": "legacy"}})
    assert legacy["allowed"] is True
    warned = {x.split()[1] for x in legacy["warnings"]}
    assert {"KF-IMG-001", "KF-POD-001"} <= warned  # a forced enforce in a warn-only namespace is warned


def test_levels_flags_override_the_config(webhook: StartWebhook) -> None:
    w = webhook(config="admission: {enforce: off}\n", levels={"enforce": "critical"}, select=("KF-POD-001",))
    assert w.review(PRIVILEGED_POD)["allowed"] is False


def test_not_evaluated_is_warned_never_denied(webhook: StartWebhook) -> None:
    w = webhook(levels={"enforce": "info", "warn": "info"}, select=("KF-POD-001",))
    bad = {
        **PRIVILEGED_POD,
        "spec": {"containers": [{"name": "app", "image": "x:1", "securityContext": {"privileged": "yes"}}]},
    }
    r = w.review(bad)
    assert r["allowed"] is True
    (warning,) = [x for x in r["warnings"] if "KF-POD-001" in x]
    assert warning.startswith("kubefort KF-POD-001 privileged-container (critical) not evaluated:")


# ------------------------------------------------------------------ policy as a function

LEVEL = st.one_of(st.none(), st.sampled_from(list(Severity)))


@given(
    levels=st.builds(Levels, LEVEL, LEVEL, LEVEL),
    severity=st.sampled_from(list(Severity)),
    forced=st.sampled_from([False, None, "enforce", "warn", "audit"]),
    evaluated=st.booleans(),
)
def test_modes_follow_levels_forced_modes_and_evaluation(
    levels: Levels, severity: Severity, forced: Any, evaluated: bool
) -> None:
    got = modes_for(levels, severity, forced, evaluated)
    rank = {"audit": 0, "warn": 1, "enforce": 2}
    for m in MODES:
        on = levels.of(m) is not None and (m != "enforce" or evaluated)
        if forced is None:
            expected = False
        elif forced is False:
            expected = on and severity >= levels.of(m)  # type: ignore[operator]
        else:
            expected = on and rank[m] <= rank[forced]
        assert (m in got) is expected, (m, got)
    assert got == [m for m in MODES if m in got]  # strongest first
    if forced is False and severity < Severity.CRITICAL:  # more severe never reaches fewer modes
        assert set(got) <= set(modes_for(levels, Severity(severity + 1), forced, evaluated))


@given(
    values=st.dictionaries(
        st.sampled_from(MODES), st.one_of(st.sampled_from(["off", "OFF", "high", "Low", "info"]), st.text(max_size=8))
    )
)
def test_namespace_labels_parse_or_fall_back_to_info(values: dict[str, str]) -> None:
    from kubefort.admission.policy import AdmissionSettings, parse_level

    labels = {f"kubefort.io/{m}": v for m, v in values.items()}
    levels, problems = levels_for(AdmissionSettings(), "ns", labels)
    bad = 0
    for m in MODES:
        if m not in values:
            assert levels.of(m) == DEFAULT_LEVELS.of(m)
            continue
        try:
            expected = parse_level(values[m])
        except PolicyError:
            expected, bad = Severity.INFO, bad + 1
        assert levels.of(m) == expected
    assert len(problems) == bad
    assert levels_for(AdmissionSettings(), None, labels) == (DEFAULT_LEVELS, [])  # cluster-scoped: defaults


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"enforce": "hihg"}, "admission.enforce: 'hihg' is not a level"),
        ({"mode": "warn"}, "unknown key mode"),
        ({"checks": {"KF-NOPE-001": "warn"}}, "unknown check"),
        ({"checks": {"KF-POD-001": "deny"}}, "expected one of enforce, warn, audit, off"),
        ({"namespaces": {"shop": {"enforce": "x"}}}, "admission.namespaces.shop.enforce"),
        ({"namespaces": {"shop": {"block": "high"}}}, "unknown mode block"),
        ("high", "expected a mapping"),
    ],
)
def test_invalid_admission_settings_are_refused(raw: Any, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_settings(raw, REGISTRY)


def test_config_file_refuses_a_bad_admission_section(tmp_path: Path) -> None:
    p = tmp_path / ".kubefort.yaml"
    p.write_text("admission: {warn: loud}\n")
    with pytest.raises(ConfigError, match=r"admission\.warn: 'loud' is not a level"):
        load_config(p, REGISTRY)


# ------------------------------------------------------------------ same verdict as `kubefort scan`

AREAS = ("POD", "PSS", "IMG", "SEC", "RES", "WL", "PSA", "META", "NET", "INPUT")


def _fixture_objects() -> list[dict[str, Any]]:
    import yaml as pyyaml

    out = []
    for f in sorted((FIXTURES / "checks").glob("KF-*.yaml")):
        if f.stem.split("-")[1] not in AREAS:
            continue
        for doc in pyyaml.safe_load_all(f.read_text()):
            if isinstance(doc, dict) and isinstance(doc.get("kind"), str) and doc.get("kind") != "ClusterInfo":
                out.append(doc)
    return out


def _key(o: Any) -> tuple[Any, ...]:
    return (o.check_id, o.status.value, o.container, o.message, tuple(o.path), o.severity)


@pytest.mark.slow
def test_every_fixture_object_gets_the_scan_findings(tmp_path: Path) -> None:
    """The judge's outcomes (what the server turns into a verdict) are the per-object outcomes
    of a scan of a file holding the object, for every object of the check fixtures."""
    ids = admission_checks(REGISTRY, None, cache=False)
    judge = build_judge(REGISTRY, None, ids, context=False)
    per_object = set(ids)
    objects = _fixture_objects()
    assert len(objects) > 150
    for i, obj in enumerate(objects):
        f = tmp_path / f"o{i}.json"
        f.write_text(json.dumps(obj))
        scanned = sorted(
            _key(o)
            for o in scan_file(f, tuple(per_object))
            if o.status is not Status.PASSED and o.check_id in per_object
        )
        got = sorted(_key(o) for o in judge.outcomes(json.loads(json.dumps(obj))))
        assert got == scanned, obj.get("metadata")


CONFIG = """
options:
  KF-IMG-004:
    allowed_registries: [registry.example.com]
severity:
  KF-POD-007: high
exceptions:
- checks: [KF-POD-005]
  namespaces: [shop]
  reason: escalation is reviewed in shop
- checks: [KF-POD-001]
  names: [tolerated]
  reason: the node agent
"""


def _scan_json(paths: list[Path], config: Path) -> dict[str, Any]:
    exe = Path(sys.executable).parent / "kubefort"
    p = subprocess.run(
        [str(exe), "scan", *map(str, paths), "--config", str(config), "-o", "json", "-q", "--fail-on", "never"],
        capture_output=True,
        timeout=300,
    )
    assert p.returncode in (0, 3), p.stderr.decode()
    return json.loads(p.stdout)


@pytest.mark.slow
def test_same_failed_checks_and_messages_as_kubefort_scan(webhook: StartWebhook, tmp_path: Path) -> None:
    """Same objects, same .kubefort.yaml (options, a severity override, exceptions by namespace
    and by name, an inline annotation): the webhook denies (enforce info) exactly the checks and
    messages that the `kubefort scan` CLI reports as failed, per-object checks only."""
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(CONFIG)
    w = webhook(config=CONFIG, levels={"enforce": "info"})
    annotated = {
        **DEPLOYMENT,
        "metadata": {
            **DEPLOYMENT["metadata"],
            "name": "annotated",
            "annotations": {"kubefort.io/ignore": "KF-SEC-003=the app reads it once"},
        },
    }
    objects = [
        PRIVILEGED_POD,
        {**PRIVILEGED_POD, "metadata": {"name": "tolerated", "namespace": "prod"}},
        DEPLOYMENT,
        annotated,
    ]
    objects += [
        o
        for o in _fixture_objects()
        if o.get("kind") in ("Pod", "Deployment", "CronJob", "Service", "ConfigMap", "Ingress", "Namespace")
    ][:40]
    files = []
    for i, obj in enumerate(objects):
        f = tmp_path / f"obj{i:03d}.yaml"
        f.write_text(yaml.safe_dump(obj))
        files.append(f)
    report = _scan_json(files, cfg)
    per_object = {m.id for m in REGISTRY if m.target not in ("cluster", "audit")}
    suppressed_seen = 0
    for f, obj in zip(files, objects, strict=True):
        expected = sorted(
            (r["check_id"], r["message"])
            for r in report["results"]
            if r["file"] == str(f) and r["outcome"] == "failed" and r["check_id"] in per_object
        )
        suppressed_seen += sum(1 for r in report["results"] if r["file"] == str(f) and r["outcome"] == "suppressed")
        response = w.review(obj)
        causes = response.get("status", {}).get("details", {}).get("causes", [])
        assert sorted((c["reason"], c["message"]) for c in causes) == expected, f.name
        assert response["allowed"] is (not expected)
    assert suppressed_seen >= 3  # the exceptions and the annotation did suppress something
    assert w.metric("kubefort_admission_suppressed_total") >= 3


# ------------------------------------------------------------------ exceptions


def test_inline_exception_annotation_admits_the_object(webhook: StartWebhook) -> None:
    w = webhook(select=("KF-POD-001",))
    pod = {
        **PRIVILEGED_POD,
        "metadata": {**PRIVILEGED_POD["metadata"], "annotations": {"kubefort.io/ignore": "KF-POD-001[app]=CNI agent"}},
    }
    assert w.review(pod) == {"allowed": True}
    assert w.metric("kubefort_admission_suppressed_total") == 1.0
    other = {**pod, "metadata": {**pod["metadata"], "annotations": {"kubefort.io/ignore": "KF-POD-001[sidecar]=no"}}}
    assert w.review(other)["allowed"] is False  # the exception names another container


@pytest.mark.parametrize(
    ("rule", "allowed"),
    [
        ("{checks: [KF-POD-001], namespaces: [shop], reason: r}", True),
        ("{checks: [KF-POD-001], namespaces: [prod], reason: r}", False),
        ("{checks: [KF-POD-001], names: [ro*], reason: r}", True),
        ("{checks: [KF-POD-001], kinds: [Deployment], reason: r}", False),
        ("{checks: [KF-POD-001], containers: [app], reason: r}", True),
        ("{checks: [KF-POD-001], reason: r, expires: 2000-01-01}", False),
    ],
)
def test_config_exceptions_apply_by_namespace_name_kind_container(
    webhook: StartWebhook, rule: str, allowed: bool
) -> None:
    w = webhook(config=f"exceptions:\n- {rule}\n", select=("KF-POD-001",))
    assert w.review(PRIVILEGED_POD)["allowed"] is allowed


def test_namespace_is_taken_from_the_request_when_the_object_has_none(webhook: StartWebhook) -> None:
    w = webhook(config="exceptions:\n- {checks: [KF-POD-001], namespaces: [shop], reason: r}\n", select=("KF-POD-001",))
    bare = {**PRIVILEGED_POD, "metadata": {"name": "root"}}
    assert w.review(bare, namespace="shop")["allowed"] is True
    assert w.review(bare, namespace="prod")["allowed"] is False


# ------------------------------------------------------------------ what is judged


def test_dry_run_is_judged_like_the_real_request(webhook: StartWebhook) -> None:
    w = webhook()
    real, dry = w.review(PRIVILEGED_POD), w.review(PRIVILEGED_POD, dry_run=True)
    assert real == dry and dry["allowed"] is False
    assert (
        w.metric("kubefort_admission_requests_total", operation="CREATE", kind="Pod", verdict="denied", dry_run="true")
        == 1
    )


@pytest.mark.parametrize(
    ("operation", "sub_resource", "old"),
    [
        ("DELETE", "", PRIVILEGED_POD),
        ("CONNECT", "exec", None),
        ("UPDATE", "status", PRIVILEGED_POD),
    ],
)
def test_requests_that_create_nothing_are_admitted_unjudged(
    webhook: StartWebhook, operation: str, sub_resource: str, old: Any
) -> None:
    w = webhook()
    obj = None if operation in ("DELETE", "CONNECT") else PRIVILEGED_POD
    r = w.review(obj, namespace="shop", operation=operation, old=old, sub_resource=sub_resource)
    assert r == {"allowed": True}
    assert (
        w.metric(
            "kubefort_admission_requests_total",
            operation=operation,
            kind=(obj or {}).get("kind", ""),
            verdict="skipped",
            dry_run="false",
        )
        == 1
    )


def test_ephemeral_containers_are_judged_as_the_pod(webhook: StartWebhook) -> None:
    w = webhook(select=("KF-POD-001",))
    pod = {**PRIVILEGED_POD, "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}
    debug = {
        **pod,
        "spec": {
            **pod["spec"],
            "ephemeralContainers": [{"name": "dbg", "image": "busybox:1", "securityContext": {"privileged": True}}],
        },
    }
    r = w.review(debug, operation="UPDATE", old=pod, sub_resource="ephemeralcontainers")
    assert failed_ids(r) == ["KF-POD-001"]


def test_updates_of_bookkeeping_or_deletion_are_admitted_other_updates_judged(webhook: StartWebhook) -> None:
    w = webhook(select=("KF-POD-001",))
    owned = {
        **PRIVILEGED_POD,
        "metadata": {**PRIVILEGED_POD["metadata"], "ownerReferences": [{"kind": "ReplicaSet"}], "finalizers": ["x"]},
    }
    assert w.review(owned, operation="UPDATE", old=PRIVILEGED_POD) == {"allowed": True}
    deleting = {
        **PRIVILEGED_POD,
        "metadata": {**PRIVILEGED_POD["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"},
    }
    assert w.review(deleting, operation="UPDATE", old=PRIVILEGED_POD) == {"allowed": True}
    relabelled = {**PRIVILEGED_POD, "metadata": {**PRIVILEGED_POD["metadata"], "labels": {"a": "b"}}}
    assert w.review(relabelled, operation="UPDATE", old=PRIVILEGED_POD)["allowed"] is False
    assert w.review(PRIVILEGED_POD, operation="UPDATE", old=None)["allowed"] is False


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=8,
)


@given(
    meta=JSONISH,
    spec=JSONISH,
    old_spec=JSONISH,
    labels=st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
@settings(max_examples=60)
def test_bookkeeping_only_means_nothing_but_status_and_unread_metadata_changed(
    meta: Any, spec: Any, old_spec: Any, labels: dict[str, str]
) -> None:
    old = {"kind": "Pod", "metadata": {"name": "a", "labels": labels}, "spec": old_spec}
    new = {"kind": "Pod", "metadata": {"name": "a", "labels": labels, "finalizers": meta}, "spec": spec, "status": meta}
    assert bookkeeping_only(new, old) is (spec == old_spec)
    relabelled = {**new, "metadata": {**new["metadata"], "labels": {**labels, "new": "x"}}}
    assert bookkeeping_only(relabelled, old) is False


# ------------------------------------------------------------------ bad requests


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "reason"),
    [
        ("POST", "/validate", b"", 400, "not-json"),
        ("POST", "/validate", b"{not json", 400, "not-json"),
        ("POST", "/validate", b"[1, 2]", 400, "not-a-review"),
        ("POST", "/validate", b'{"kind": "Pod"}', 400, "not-a-review"),
        (
            "POST",
            "/validate",
            b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1", "request": {}}',
            400,
            "unsupported-version",
        ),
        ("POST", "/validate", b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}', 400, "malformed"),
        ("POST", "/validate", json.dumps(review(PRIVILEGED_POD, uid="")).encode(), 400, "malformed"),
        ("POST", "/validate", json.dumps(review(None)).encode(), 400, "malformed"),
        (
            "POST",
            "/validate",
            json.dumps(
                {**review(PRIVILEGED_POD), "request": {**review(PRIVILEGED_POD)["request"], "operation": "PATCH"}}
            ).encode(),
            400,
            "malformed",
        ),
        (
            "POST",
            "/validate",
            json.dumps(
                {**review(PRIVILEGED_POD), "request": {**review(PRIVILEGED_POD)["request"], "dryRun": "yes"}}
            ).encode(),
            400,
            "malformed",
        ),
        ("GET", "/validate", None, 405, "method"),
        ("POST", "/healthz", b"x", 405, "method"),
        ("GET", "/mutate", None, 404, "not-found"),
    ],
)
def test_bad_requests_get_4xx_and_are_counted(
    webhook: StartWebhook, method: str, path: str, body: bytes | None, status: int, reason: str
) -> None:
    w = webhook()
    got, text = w.request(method, path, body)
    assert got == status, text
    assert text.startswith(b"kubefort admission: ")
    assert w.metric("kubefort_admission_bad_requests_total", reason=reason) == 1
    assert w.review(PRIVILEGED_POD)["allowed"] is False  # and it goes on serving


@pytest.mark.parametrize("stack", STACKS, ids="+".join)
def test_huge_bodies_are_refused_before_they_are_read(webhook: StartWebhook, stack: tuple[str, str]) -> None:
    w = webhook(max_body=64 * 1024, stack=stack)
    big = json.dumps(
        review({**PRIVILEGED_POD, "metadata": {**PRIVILEGED_POD["metadata"], "annotations": {"a": "x" * 70_000}}})
    ).encode()
    # with a length announced: the server may answer and close before the body is all sent, so
    # a failed send is expected; the answer is still there to read
    conn = w.connect()
    conn.putrequest("POST", "/validate")
    conn.putheader("Content-Length", str(len(big)))
    conn.endheaders()
    with contextlib.suppress(OSError):
        conn.send(big)
    r = conn.getresponse()
    status, text = r.status, r.read()
    conn.close()
    assert status == 400 and b"larger than 65536 bytes" in text
    # chunked, with no length announced: refused once the limit is passed
    conn = w.connect()
    conn.putrequest("POST", "/validate")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for i in range(0, len(big), 16384):
        chunk = big[i : i + 16384]
        try:
            conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        except OSError:
            break
    with contextlib.suppress(OSError):
        conn.send(b"0\r\n\r\n")
    r = conn.getresponse()
    assert r.status == 400
    conn.close()
    assert w.metric("kubefort_admission_bad_requests_total", reason="too-large") == 2
    assert w.review(PRIVILEGED_POD)["allowed"] is False


@pytest.mark.slow
@given(obj=JSONISH, kind=st.sampled_from(["Pod", "Deployment", "CronJob", "Namespace", "Service", "Widget"]))
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_any_object_gets_an_answer_never_an_error(webhook: StartWebhook, obj: Any, kind: str) -> None:
    w = _shared(webhook)
    body = {
        "apiVersion": "apps/v1" if kind == "Deployment" else "v1",
        "kind": kind,
        "metadata": {"name": "x"},
        "spec": obj,
    }
    r = w.review(body, namespace="shop")
    assert isinstance(r["allowed"], bool)
    assert w.metric("kubefort_admission_errors_total", what="judge") == 0


_SHARED: list[tuple[StartWebhook, Webhook]] = []


def _shared(start: StartWebhook) -> Webhook:
    """One server for every Hypothesis example of a test (the fixture is per test, Hypothesis
    runs the examples inside one call of it); the fixture stops it."""
    if not _SHARED or _SHARED[0][0] is not start:
        _SHARED[:] = [(start, start())]
    return _SHARED[0][1]


def test_a_judge_bug_is_answered_500_and_counted(webhook: StartWebhook, monkeypatch: pytest.MonkeyPatch) -> None:
    w = webhook()

    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr(w.app.judge, "judge", boom)
    status, _ = w.request("POST", "/validate", json.dumps(review(PRIVILEGED_POD, namespace="shop")).encode())
    assert status == 500
    assert w.metric("kubefort_admission_errors_total", what="judge") == 1
    monkeypatch.undo()
    assert w.review(PRIVILEGED_POD)["allowed"] is False


# ------------------------------------------------------------------ health, readiness, metrics


class NotSynced(StaticNamespaces):
    def __init__(self) -> None:
        super().__init__()
        self.synced = False

    def ready(self) -> bool:
        return self.synced


def test_readyz_waits_for_the_cache_healthz_does_not(webhook: StartWebhook) -> None:
    cache = NotSynced()
    w = webhook(cache=cache)
    assert w.request("GET", "/healthz") == (200, b"ok\n")
    assert w.request("GET", "/readyz")[0] == 503
    cache.synced = True
    assert w.request("GET", "/readyz") == (200, b"ok\n")


def test_metrics_count_requests_findings_modes_and_latency(webhook: StartWebhook) -> None:
    w = webhook()
    w.review(PRIVILEGED_POD)
    w.review(DEPLOYMENT)
    assert (
        w.metric("kubefort_admission_requests_total", operation="CREATE", kind="Pod", verdict="denied", dry_run="false")
        == 1
    )
    assert (
        w.metric(
            "kubefort_admission_requests_total",
            operation="CREATE",
            kind="Deployment",
            verdict="allowed",
            dry_run="false",
        )
        == 1
    )
    assert w.metric("kubefort_admission_findings_total", check="KF-POD-001", mode="enforce") == 1
    assert w.metric("kubefort_admission_findings_total", check="KF-POD-001", mode="audit") == 1
    assert w.metric("kubefort_admission_findings_total", check="KF-POD-007", mode="warn") == 1
    assert w.metric("kubefort_admission_findings_total", check="KF-POD-007", mode="enforce") == 0
    assert w.metric("kubefort_admission_request_duration_seconds_count") == 2
    assert w.metric("kubefort_admission_judge_duration_seconds_count") == 2
    assert (
        0
        < w.metric("kubefort_admission_judge_duration_seconds_sum")
        <= w.metric("kubefort_admission_request_duration_seconds_sum")
    )
    assert w.metric("kubefort_admission_tls_certificate_expiry_timestamp_seconds") > time.time()


def test_warnings_fit_the_api_servers_limits(webhook: StartWebhook) -> None:
    w = webhook(levels={"enforce": "off", "warn": "info"})
    containers = [
        {"name": f"c{i}-" + "x" * 50, "image": "nginx", "command": ["sh", "-c", "echo " + "y" * 300]} for i in range(30)
    ]
    r = w.review({**PRIVILEGED_POD, "spec": {"containers": containers}})
    assert r["allowed"] is True
    assert all(len(x) <= WARNING_RUNES and x.isprintable() for x in r["warnings"])
    assert sum(len(x) for x in r["warnings"]) <= WARNINGS_TOTAL
    assert r["warnings"][-1].endswith("more warnings not shown (the API server's limit)")


# ------------------------------------------------------------------ certificate reload


def _served_subject(w: Webhook) -> str:
    ctx = ssl.create_default_context(cafile=w.ca)
    ctx.check_hostname = False  # an IP address and no SNI, as the API server connects to a URL with an IP
    with socket.create_connection(("127.0.0.1", w.port)) as raw, ctx.wrap_socket(raw, server_hostname=None) as s:
        der = s.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


@pytest.mark.parametrize("stack", STACKS, ids="+".join)
def test_certificate_is_reloaded_when_its_files_change(
    webhook: StartWebhook, ca: CA, tmp_path: Path, stack: tuple[str, str]
) -> None:
    live = tmp_path / "live"
    live.mkdir()
    crt, key = live / "tls.crt", live / "tls.key"
    a_crt, a_key = ca.issue(tmp_path, "first")
    b_crt, b_key = ca.issue(tmp_path, "second")
    shutil.copy(a_crt, crt)
    shutil.copy(a_key, key)
    w = webhook(cert=(crt, key), stack=stack)
    keep = w.connect()  # an open connection keeps the certificate it started with
    keep.request("GET", "/healthz")
    assert keep.getresponse().read() == b"ok\n"
    assert _served_subject(w) == "CN=first"
    # as the kubelet updates a mounted Secret: new files renamed into place
    for src, dst in ((b_crt, crt), (b_key, key)):
        shutil.copy(src, dst.with_suffix(".new"))
        os.replace(dst.with_suffix(".new"), dst)
    assert _served_subject(w) == "CN=second"
    assert w.metric("kubefort_admission_tls_reloads_total") == 1
    keep.request("GET", "/healthz")
    assert keep.getresponse().read() == b"ok\n"
    assert w.review(PRIVILEGED_POD)["allowed"] is False
    # a pair that does not load (the certificate changed, the key not yet) is not used
    shutil.copy(a_crt, crt.with_suffix(".new"))
    os.replace(crt.with_suffix(".new"), crt)
    assert _served_subject(w) == "CN=second"
    assert _served_subject(w) == "CN=second"
    assert w.metric("kubefort_admission_errors_total", what="tls-reload") == 1  # counted once
    shutil.copy(a_key, key.with_suffix(".new"))
    os.replace(key.with_suffix(".new"), key)
    assert _served_subject(w) == "CN=first"
    assert w.metric("kubefort_admission_tls_reloads_total") == 2
    # files gone for a moment: the last good pair stays in service
    os.remove(crt)
    assert _served_subject(w) == "CN=first"
    keep.close()


# ------------------------------------------------------------------ the cluster cache's checks


class FakeCluster(StaticNamespaces):
    """What the watch cache answers, from objects given here."""

    live = True

    def __init__(
        self, namespaces: list[dict[str, Any]], accounts: list[dict[str, Any]], rbac: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__()
        self.ns = {n["metadata"]["name"]: n for n in namespaces}
        self.sa = {(a["metadata"]["namespace"], a["metadata"]["name"]): a for a in accounts}
        self.rbac_objects = list(rbac or [])
        self.generation = 0
        self.rbac_reads = 0

    def rbac(self) -> tuple[int, list[Any]]:
        self.rbac_reads += 1
        return self.generation, self.rbac_objects

    def labels(self, namespace: str) -> Any:
        obj = self.ns.get(namespace)
        return obj["metadata"].get("labels", {}) if obj else None

    def namespace(self, name: str) -> Any:
        return self.ns.get(name)

    def account(self, namespace: str, name: str) -> Any:
        return self.sa.get((namespace, name))


def test_cache_backed_checks_match_a_scan_with_the_namespace_and_account(webhook: StartWebhook, tmp_path: Path) -> None:
    ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "shop",
            "labels": {"pod-security.kubernetes.io/enforce": "restricted", "kubefort.io/enforce": "low"},
        },
    }
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "shop"}}
    pod = {
        **PRIVILEGED_POD,
        "spec": {"serviceAccountName": "web", "containers": [{"name": "app", "image": "nginx:1.27"}]},
    }
    w = webhook(cache=FakeCluster([ns], [sa]), select=("KF-PSA-007", "KF-WL-001"))
    causes = w.review(pod)["status"]["details"]["causes"]
    f = tmp_path / "all.yaml"
    f.write_text(yaml.safe_dump_all([ns, sa, pod]))
    scanned = sorted(
        (o.check_id, o.message)
        for o in scan_file(f, ("KF-PSA-007", "KF-WL-001"))
        if o.status is Status.FAILED and o.resource and o.resource.kind == "Pod"
    )
    assert sorted((c["reason"], c["message"]) for c in causes) == scanned
    assert {c["reason"] for c in causes} == {"KF-PSA-007", "KF-WL-001"}
    # the account disables automounting: KF-WL-001 passes, as in a scan
    w2 = webhook(cache=FakeCluster([ns], [{**sa, "automountServiceAccountToken": False}]), select=("KF-WL-001",))
    assert w2.review(pod) == {"allowed": True}


def _rbac_world() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """shop, its ServiceAccount `deployer`, a Role that reads Secrets bound to it, a Deployment."""
    ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {"kubefort.io/enforce": "high"}},
    }
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "deployer", "namespace": "shop"}}
    rbac = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "read-secrets", "namespace": "shop"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "deployer-secrets", "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-secrets"},
            "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "shop"}],
        },
    ]
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"serviceAccountName": "deployer", "containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
        },
    }
    return ns, sa, rbac, deployment


def test_rbac_at_admission_matches_a_scan_of_the_same_objects(webhook: StartWebhook, tmp_path: Path) -> None:
    ns, sa, rbac, deployment = _rbac_world()
    cluster = FakeCluster([ns], [sa], rbac)
    w = webhook(cache=cluster, select=("KF-RBAC-019",))
    answer = w.review(deployment)
    assert answer["allowed"] is False
    causes = answer["status"]["details"]["causes"]
    f = tmp_path / "all.yaml"
    f.write_text(yaml.safe_dump_all([ns, sa, *rbac, deployment]))
    scanned = sorted(
        (o.check_id, o.message)
        for o in scan_file(f, ("KF-RBAC-019",))
        if o.status is Status.FAILED and o.resource and o.resource.kind == "Deployment"
    )
    assert [c["reason"] for c in causes] == ["KF-RBAC-019"]
    assert sorted((c["reason"], c["message"]) for c in causes) == scanned
    assert "read-secrets" in causes[0]["message"]
    # the pods mount no token: nothing to steal, as in a scan
    quiet = {**deployment, "spec": {**deployment["spec"], "template": {**deployment["spec"]["template"]}}}
    quiet["spec"]["template"]["spec"] = {
        **deployment["spec"]["template"]["spec"],
        "automountServiceAccountToken": False,
    }
    assert w.review(quiet) == {"allowed": True}
    # the binding goes (a watch event: a new generation): the next review sees it gone
    cluster.rbac_objects = rbac[:1]
    cluster.generation += 1
    assert w.review(deployment) == {"allowed": True}
    # another account of the namespace, bound to nothing: allowed, with the same policy
    other = {**deployment, "metadata": {"name": "other", "namespace": "shop"}}
    assert w.review(other) == {"allowed": True}


def test_rbac_policy_is_built_once_per_generation() -> None:
    from kubefort.admission.context import ContextChecks
    from kubefort.model import Source

    ns, sa, rbac, deployment = _rbac_world()
    cluster = FakeCluster([ns], [sa], rbac)
    ctx = ContextChecks(REGISTRY, ["KF-RBAC-019"], options={}, severity={}, pod_template_paths={})
    src = Source("cluster://admission")
    first = ctx.policies(src, cluster.rbac)
    assert ctx.policies(src, cluster.rbac) is first  # same generation: the same policies
    for _ in range(3):
        assert [o.check_id for o in ctx.run(deployment, src, cluster.namespace, cluster.account, cluster.rbac)] == [
            "KF-RBAC-019"
        ]
    assert ctx.policies(src, cluster.rbac) is first
    (pol,) = first.values()
    assert pol.workloads == []  # the reviews' objects went into copies, never into the shared policy
    cluster.generation += 1
    assert ctx.policies(src, cluster.rbac) is not first
    # no RBAC lookup (a cache that keeps none): not evaluated, never a pass on the defaults alone
    (o,) = ctx.run(deployment, src, cluster.namespace, cluster.account, None)
    assert o.check_id == "KF-RBAC-019" and o.status is Status.NOT_EVALUATED
    assert "roles and bindings" in (o.message or "")


def test_without_the_cache_cross_object_checks_cannot_be_selected() -> None:
    from kubefort.engine.selection import SelectionError

    with pytest.raises(SelectionError, match="cross-object checks need the other objects of a scan"):
        admission_checks(REGISTRY, None, ["KF-WL-001"], cache=False)
    with pytest.raises(SelectionError):
        admission_checks(REGISTRY, None, ["KF-NET-001"], cache=True)
    ids = admission_checks(REGISTRY, None, cache=True)
    assert {"KF-WL-001", "KF-PSA-007"} <= set(ids)
    assert not [i for i in ids if REGISTRY.get(i).target == "cluster" and not runs_with_cache(REGISTRY.get(i))]


def test_docs_list_every_check_not_run_at_admission() -> None:
    doc = (ROOT / "docs" / "admission.md").read_text()
    section = doc.split("## Checks not run at admission", 1)[1].split("\n## ", 1)[0]
    listed = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `KF-")}
    assert listed == {m.id for m in not_run_at_admission(REGISTRY, with_cache=True)}
    for m in REGISTRY:
        if m.target == "cluster" and runs_with_cache(m):
            assert f"`{m.id}`" in doc.split("## Checks not run at admission", 1)[0]


# ------------------------------------------------------------------ namespace labels flag, CLI usage


def test_namespace_labels_flag_parses_repeated_values() -> None:
    assert parse_namespace_labels(["shop:kubefort.io/enforce=high,kubefort.io/warn=low", "dev:a=", "shop:b=c"]) == {
        "shop": {"kubefort.io/enforce": "high", "kubefort.io/warn": "low", "b": "c"},
        "dev": {"a": ""},
    }
    for bad in ("shop", ":a=b", "shop:novalue"):
        with pytest.raises(ValueError, match=r"NAMESPACE:LABEL=VALUE|is not LABEL=VALUE"):
            parse_namespace_labels([bad])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--namespace-labels", "shop:a=b"], "--namespace-labels needs --no-cluster-cache"),
        (["--no-cluster-cache", "--enforce", "loud"], "'loud' is not a level"),
        (["--no-cluster-cache", "--checks", "KF-NET-001"], "cross-object checks need the other objects"),
        (["--no-cluster-cache", "--checks", "KF-POD-999"], "unknown check"),
    ],
)
def test_serve_usage_errors(ca: CA, tmp_path: Path, args: list[str], message: str) -> None:
    crt, key = ca.issue(tmp_path, "cli")
    res = CliRunner().invoke(
        cli,
        ["admission", "serve", "--tls-cert-file", str(crt), "--tls-private-key-file", str(key), "--no-config", *args],
    )
    assert res.exit_code == 2 and message in res.output, res.output


def test_serve_refuses_a_key_that_does_not_match(ca: CA, tmp_path: Path) -> None:
    crt, _ = ca.issue(tmp_path, "one")
    _, key = ca.issue(tmp_path, "two")
    res = CliRunner().invoke(
        cli,
        [
            "admission",
            "serve",
            "--tls-cert-file",
            str(crt),
            "--tls-private-key-file",
            str(key),
            "--no-config",
            "--no-cluster-cache",
        ],
    )
    assert res.exit_code == 2 and "cannot use certificate" in res.output


def test_serve_command_answers_reviews(ca: CA, tmp_path: Path) -> None:
    """The real command in a process of its own: up, judging, and stopped by SIGTERM."""
    crt, key = ca.issue(tmp_path, "proc")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).parent / "kubefort"
    p = subprocess.Popen(
        [
            str(exe),
            "admission",
            "serve",
            "--tls-cert-file",
            str(crt),
            "--tls-private-key-file",
            str(key),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-config",
            "--no-cluster-cache",
            "--namespace-labels",
            "shop:kubefort.io/enforce=off",
        ],
        stderr=subprocess.PIPE,
    )
    try:
        ctx = ssl.create_default_context(cafile=str(ca.path))
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
                conn.request("POST", "/validate", json.dumps(review(PRIVILEGED_POD, namespace="shop")).encode())
                r = conn.getresponse()
                break
            except OSError:
                assert p.poll() is None and time.monotonic() < deadline, p.stderr.read() if p.stderr else ""
                time.sleep(0.2)
        response = json.loads(r.read())["response"]
        assert response["allowed"] is True and any("KF-POD-001" in x for x in response["warnings"])
    finally:
        p.terminate()
        assert p.wait(20) == -15  # uvicorn ends by the signal it handled, after a clean shutdown
    assert b"serving on https://127.0.0.1:" in (p.stderr.read() if p.stderr else b"")


# ------------------------------------------------------------------ install


def _install(*args: str) -> dict[str, Any]:
    res = CliRunner().invoke(cli, ["admission", "install", "--no-config", *args])
    assert res.exit_code == 0, res.output
    return yaml.safe_load(res.output)


def test_install_prints_three_scoped_webhooks(ca: CA) -> None:
    obj = _install("--service", "kubefort-webhook", "-n", "kubefort", "--ca-bundle", str(ca.path))
    assert obj["apiVersion"] == "admissionregistration.k8s.io/v1" and obj["kind"] == "ValidatingWebhookConfiguration"
    hooks = {h["name"]: h for h in obj["webhooks"]}
    assert list(hooks) == [
        "labelled.webhook.kubefort.io",
        "namespaced.webhook.kubefort.io",
        "cluster.webhook.kubefort.io",
    ]
    import base64

    for h in hooks.values():
        assert h["sideEffects"] == "None" and h["matchPolicy"] == "Equivalent"
        assert h["admissionReviewVersions"] == ["v1"] and h["timeoutSeconds"] == 5
        assert h["clientConfig"]["service"] == {
            "namespace": "kubefort",
            "name": "kubefort-webhook",
            "port": 443,
            "path": "/validate",
        }
        assert base64.b64decode(h["clientConfig"]["caBundle"]) == ca.path.read_bytes()
        excluded = h["namespaceSelector"]["matchExpressions"][0]
        assert excluded == {
            "key": "kubernetes.io/metadata.name",
            "operator": "NotIn",
            "values": ["kube-system", "kubefort"],
        }
        for rule in h["rules"]:
            assert rule["operations"] == ["CREATE", "UPDATE"]
            assert "secrets" not in rule["resources"] and "events" not in rule["resources"]
    assert hooks["labelled.webhook.kubefort.io"]["failurePolicy"] == "Fail"
    assert hooks["namespaced.webhook.kubefort.io"]["failurePolicy"] == "Ignore"
    assert hooks["cluster.webhook.kubefort.io"]["failurePolicy"] == "Ignore"
    enforce_sel = hooks["labelled.webhook.kubefort.io"]["namespaceSelector"]["matchExpressions"][1]
    other_sel = hooks["namespaced.webhook.kubefort.io"]["namespaceSelector"]["matchExpressions"][1]
    assert enforce_sel["key"] == other_sel["key"] == "kubefort.io/enforce"
    assert (enforce_sel["operator"], other_sel["operator"]) == ("In", "NotIn")
    assert enforce_sel["values"] == other_sel["values"] == sorted(s.label for s in Severity)
    resources = {
        (g, r) for h in hooks.values() for rule in h["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    for kind in inst.POD_KINDS:
        g, _v, r, _c = inst.RESOURCES[kind]
        assert (g, r) in resources
    assert ("", "pods/ephemeralcontainers") in resources and ("", "namespaces") in resources
    scopes = {h["name"]: {rule["scope"] for rule in h["rules"]} for h in hooks.values()}
    assert scopes == {
        "labelled.webhook.kubefort.io": {"Namespaced"},
        "namespaced.webhook.kubefort.io": {"Namespaced"},
        "cluster.webhook.kubefort.io": {"Cluster"},
    }


@pytest.mark.parametrize("policy", ["Fail", "Ignore"])
def test_install_failure_policy_for_every_scope(policy: str) -> None:
    obj = _install("--url", "https://10.0.0.5:8443", "--failure-policy", policy, "--timeout", "3")
    assert {h["failurePolicy"] for h in obj["webhooks"]} == {policy}
    assert {h["timeoutSeconds"] for h in obj["webhooks"]} == {3}
    assert {h["clientConfig"]["url"] for h in obj["webhooks"]} == {"https://10.0.0.5:8443/validate"}
    assert all("caBundle" not in h["clientConfig"] for h in obj["webhooks"])


def test_install_rules_follow_the_selected_checks_and_extra_resources() -> None:
    obj = _install(
        "--url",
        "https://x:8443",
        "--checks",
        "KF-NET-011",
        "--resource",
        "argoproj.io/workflows",
        "--exclude-namespace",
        "monitoring",
    )
    rules = [r for h in obj["webhooks"] for r in h["rules"]]
    resources = {(r["apiGroups"][0], r["apiVersions"][0], res) for r in rules for res in r["resources"]}
    assert resources == {("networking.k8s.io", "v1", "ingresses"), ("argoproj.io", "*", "workflows")}
    assert [h["name"] for h in obj["webhooks"]] == ["labelled.webhook.kubefort.io", "namespaced.webhook.kubefort.io"]
    assert obj["webhooks"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == ["kube-system", "monitoring"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --service NAME"),
        (["--service", "s"], "--service needs --namespace"),
        (["--url", "http://x"], "HTTPS only"),
        (["--url", "https://x", "--resource", "workflows"], "GROUP/RESOURCE"),
        (["--url", "https://x", "--timeout", "31"], "31"),
    ],
)
def test_install_usage_errors(args: list[str], message: str) -> None:
    res = CliRunner().invoke(cli, ["admission", "install", "--no-config", *args])
    assert res.exit_code == 2 and message in res.output, res.output


# ------------------------------------------------------------------ the chart

CHART = ROOT / "deploy" / "helm" / "kubefort"
WEBHOOK_VALUES = ["webhook.enabled=true"]


@pytest.fixture(scope="module")
def helm() -> str:
    from test_deploy import _tool

    h = _tool("helm", "KUBEFORT_HELM")
    if h is None:
        tool_missing("helm not found (KUBEFORT_HELM, ~/.cache/kubefort/tools/bin, PATH)")
    return h


def _render(helm: str, *sets: str) -> list[dict[str, Any]]:
    args = [helm, "template", "kubefort", str(CHART), "-n", "kubefort"]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def test_chart_with_the_webhook_passes_kubefort(helm: str) -> None:
    from test_deploy import assert_clean, scan_json

    code, rep = scan_json(str(CHART), *[x for s in WEBHOOK_VALUES for x in ("--set", s)], env={"KUBEFORT_HELM": helm})
    assert_clean(code, rep)
    kinds = {o["kind"] for o in rep["objects"]}
    assert {"Deployment", "PodDisruptionBudget", "Service", "ValidatingWebhookConfiguration"} <= kinds
    (dep,) = [o for o in rep["objects"] if o["kind"] == "Deployment"]
    assert dep["pss"]["allowed"] is True


def test_chart_webhook_deployment_and_permissions(helm: str) -> None:
    objs = _render(helm, *WEBHOOK_VALUES)
    dep = next(o for o in objs if o["kind"] == "Deployment")
    spec = dep["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    assert pod["affinity"]["podAntiAffinity"]
    (c,) = pod["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz" and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["securityContext"]["capabilities"]["drop"] == [
        "ALL"
    ]
    assert c["args"][:2] == ["admission", "serve"]
    pdb = next(o for o in objs if o["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    roles = [o for o in objs if o["kind"] == "ClusterRole" and "webhook" in o["metadata"]["name"]]
    (role,) = roles
    granted = {
        (g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]
    }
    assert granted == {
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
        ("", "namespaces", "get"),
        ("", "serviceaccounts", "list"),
        ("", "serviceaccounts", "watch"),
        *(
            ("rbac.authorization.k8s.io", r, v)
            for r in ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
            for v in ("list", "watch")
        ),
    }
    # the chart's webhook configuration is what `kubefort admission install` prints for it
    vwc = next(o for o in objs if o["kind"] == "ValidatingWebhookConfiguration")
    svc = next(o for o in objs if o["kind"] == "Service")
    printed = _install("--service", svc["metadata"]["name"], "-n", "kubefort", "--name", vwc["metadata"]["name"])
    for h in vwc["webhooks"]:
        h["clientConfig"].pop("caBundle", None)
    assert vwc["webhooks"] == printed["webhooks"]


def test_chart_without_the_webhook_renders_none_of_it(helm: str) -> None:
    kinds = {o["kind"] for o in _render(helm)}
    assert not kinds & {"Deployment", "PodDisruptionBudget", "Service", "ValidatingWebhookConfiguration"}


# ------------------------------------------------------------------ the bench script


@pytest.mark.slow
def test_bench_script_runs() -> None:
    p = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "bench_admission_serve.py"),
            "--rate",
            "50",
            "--seconds",
            "1",
            "--warmup",
            "0.2",
            "--connections",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "errors 0" in p.stdout and "p99.9" in p.stdout, p.stdout


def test_admission_commands_load_only_what_they_run() -> None:
    """`kubefort admission --help` lists serve, install and vap without importing the server stack
    or vap's module; `install` imports neither uvicorn nor the kubernetes client."""
    code = """
import json, sys
from click.testing import CliRunner
import kubefort.cli
res = CliRunner().invoke(kubefort.cli.cli, sys.argv[1:], prog_name="kubefort")
print(json.dumps({"exit": res.exit_code, "output": res.output, "modules": sorted(sys.modules)}))
"""
    heavy = {"uvicorn", "kubernetes", "starlette", "kubefort.admission.server", "kubefort.cli.admission_vap"}

    def run(*args: str) -> dict[str, Any]:
        p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        out: dict[str, Any] = json.loads(p.stdout.splitlines()[-1])
        return out

    got = run("admission", "--help")
    assert got["exit"] == 0 and not heavy & set(got["modules"])
    listed = [line.split()[0] for line in got["output"].split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert listed == ["install", "serve", "vap"]
    got = run("admission", "install", "--url", "https://x:8443", "--no-config")
    assert got["exit"] == 0 and not heavy & set(got["modules"])


def test_a_namespace_is_judged_as_the_cluster_scoped_object_it_is(webhook: StartWebhook) -> None:
    """For an UPDATE of a Namespace the API server sets request.namespace to its name: kubefort
    still judges it as cluster-scoped (default levels, no metadata.namespace added)."""
    w = webhook(labels={"legacy": {"kubefort.io/enforce": "off"}}, select=("KF-PSA-006",))
    ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "legacy", "labels": {"pod-security.kubernetes.io/enforce": "strict"}},
    }
    req = review(ns, namespace="legacy", operation="UPDATE", old={**ns, "metadata": {"name": "legacy"}})
    req["request"]["resource"] = {"group": "", "version": "v1", "resource": "namespaces"}
    status, body = w.request("POST", "/validate", json.dumps(req).encode())
    response = json.loads(body)["response"]
    assert status == 200 and response["allowed"] is False
    assert response["status"]["message"].startswith(
        "kubefort: Namespace legacy fails 1 check enforced at high and above (cluster-scoped object):"
    )


def test_a_generated_name_is_shown_by_its_prefix_or_the_name_set(webhook: StartWebhook) -> None:
    w = webhook(select=("KF-POD-001",))
    generated = {**PRIVILEGED_POD, "metadata": {"generateName": "web-", "namespace": "shop"}}
    assert w.review(generated)["status"]["message"].startswith("kubefort: Pod web-* fails 1 check")
    named = {**PRIVILEGED_POD, "metadata": {"generateName": "web-", "name": "web-x1z", "namespace": "shop"}}
    assert w.review(named)["status"]["message"].startswith("kubefort: Pod web-x1z fails 1 check")


def test_denials_list_the_most_severe_first_and_cap_the_list(webhook: StartWebhook) -> None:
    w = webhook(levels={"enforce": "info"})
    containers = [{"name": f"c{i}", "image": "nginx", "securityContext": {"privileged": True}} for i in range(3)]
    r = w.review({**PRIVILEGED_POD, "spec": {"hostNetwork": True, "containers": containers}})
    severities = [REGISTRY.get(c["reason"]).severity for c in r["status"]["details"]["causes"]]
    assert severities == sorted(severities, reverse=True) and len(severities) > 10
    lines = r["status"]["message"].splitlines()
    listed = [x for x in lines if x.startswith("- KF-")]
    assert len(listed) == 10 and listed[0].startswith("- KF-") and "(critical)" in listed[0]
    (more,) = [x for x in lines if x.startswith("- and ")]
    assert more.startswith(f"- and {len(severities) - 10} more checks: KF-")


def test_the_lazy_table_matches_the_subcommands() -> None:
    from kubefort.cli.admission import SUBCOMMANDS, admission

    for name, (_path, short) in SUBCOMMANDS.items():
        cmd = admission.get_command(click_context(), name)
        assert cmd is not None and cmd.help is not None
        first = cmd.help.split("\n\n", 1)[0]
        assert " ".join(first.split()) == short, name


def click_context() -> Any:
    import click

    from kubefort.cli.admission import admission

    return click.Context(admission)


def test_chart_webhook_account_has_no_escalation_path(helm: str, tmp_path: Path) -> None:
    rendered = tmp_path / "chart.yaml"
    rendered.write_text(yaml.safe_dump_all(_render(helm, *WEBHOOK_VALUES)))
    exe = str(Path(sys.executable).parent / "kubefort")
    p = subprocess.run([exe, "rbac", "paths", str(rendered), "-o", "json"], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr.decode()
    assert json.loads(p.stdout)["paths"] == []
    p = subprocess.run(
        [exe, "rbac", "permissions", "ServiceAccount:kubefort:kubefort-webhook", str(rendered), "-o", "json"],
        capture_output=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr.decode()
    ours = [
        r["rule"]
        for scope in json.loads(p.stdout)["scopes"]
        for r in scope["rules"]
        if r["rule"]["from"].startswith("ClusterRole/kubefort-webhook")
    ]
    assert {(tuple(r["verbs"]), tuple(r["resources"])) for r in ours} == {
        (("get", "list", "watch"), ("namespaces",)),
        (("list", "watch"), ("serviceaccounts",)),
        (("list", "watch"), ("roles", "clusterroles", "rolebindings", "clusterrolebindings")),
    }


def test_chart_values_reach_the_command_line_and_config(helm: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "webhook:\n  enabled: true\n  enforce: off\n  warn: low\n"  # an unquoted off: YAML's false
        "  config:\n    admission: {checks: {KF-IMG-001: enforce}}\n"
        "    exceptions: [{checks: [KF-POD-001], namespaces: [monitoring], reason: node exporter}]\n"
    )
    p = subprocess.run(
        [helm, "template", "kubefort", str(CHART), "-n", "kubefort", "-f", str(values)],
        capture_output=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr.decode()
    objs = [d for d in yaml.safe_load_all(p.stdout) if d]
    dep = next(o for o in objs if o["kind"] == "Deployment")
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    assert {"--enforce=off", "--warn=low", "--audit=low", "--config=/etc/kubefort/.kubefort.yaml"} <= set(args)
    cm = next(o for o in objs if o["kind"] == "ConfigMap")
    cfg = tmp_path / ".kubefort.yaml"
    cfg.write_text(cm["data"][".kubefort.yaml"])
    loaded = load_config(cfg, REGISTRY)
    assert loaded.admission is not None and loaded.admission.checks == {"KF-IMG-001": "enforce"}
    assert [r.namespaces for r in loaded.exceptions] == [("monitoring",)]


@pytest.mark.parametrize(
    ("query", "seconds"),
    [
        (b"timeout=5s", 5.0),
        (b"x=1&timeout=1m0s", 60.0),
        (b"timeout=500ms", 0.5),
        (b"timeout=1.5s", 1.5),
        (b"timeout=5", 30.0),
        (b"timeout=5sx", 30.0),
        (b"", 30.0),
    ],
)
def test_the_api_servers_timeout_is_read_from_the_query(query: bytes, seconds: float) -> None:
    from kubefort.admission.server import request_timeout

    assert request_timeout({"query_string": query}) == pytest.approx(seconds)


def test_a_review_past_its_timeout_is_not_judged(webhook: StartWebhook) -> None:
    """Overload: a review that waited longer than the API server waits is answered 503 unjudged."""
    w = webhook()
    body = json.dumps(review(PRIVILEGED_POD, namespace="shop")).encode()
    status, text = w.request("POST", "/validate?timeout=1ns", body)
    assert status == 503 and b"past its timeout" in text
    assert w.metric("kubefort_admission_errors_total", what="expired") == 1
    assert (
        w.metric("kubefort_admission_requests_total", operation="CREATE", kind="Pod", verdict="denied", dry_run="false")
        == 0
    )
    status, _ = w.request("POST", "/validate?timeout=10s", body)
    assert status == 200


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads worker processes from /proc")
def test_workers_share_the_port_add_up_their_metrics_and_are_restarted(ca: CA, tmp_path: Path) -> None:
    """`admission serve --workers 2`: two processes answer on one port; /metrics (from whichever
    answers) counts every review of both; a worker that is killed is started again; SIGTERM
    stops them all (exit 0) and removes the metrics directory."""
    from prometheus_client.parser import text_string_to_metric_families

    crt, key = ca.issue(tmp_path, "workers")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    argv = [sys.executable, "-m", "kubefort", "admission", "serve", "--tls-cert-file", str(crt)]
    argv += ["--tls-private-key-file", str(key), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--no-cluster-cache", "--workers", "2", "--log-level", "warning"]
    proc = subprocess.Popen(
        argv,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    ctx = ssl.create_default_context(cafile=ca.path)

    def get(method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def requests_total() -> float:
        _, body = get("GET", "/metrics")
        return sum(
            s.value
            for fam in text_string_to_metric_families(body.decode())
            for s in fam.samples
            if s.name == "kubefort_admission_requests_total"
        )

    try:
        deadline = time.monotonic() + 30
        while len(_children(proc.pid)) < 2 or not _answers(get):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"}}
        pod["spec"] = {"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": True}}]}
        for i in range(20):  # new connections: the kernel spreads them over both workers
            status, body = get("POST", "/validate", json.dumps(review(pod, f"u{i}", "shop")).encode())
            assert status == 200 and json.loads(body)["response"]["allowed"] is False
        assert requests_total() == 20
        first, second = _children(proc.pid)
        os.kill(first, 9)
        deadline = time.monotonic() + 20
        while first in _children(proc.pid) or len(_children(proc.pid)) < 2:
            assert time.monotonic() < deadline, "the killed worker was not started again"
            time.sleep(0.1)
        assert second in _children(proc.pid)
        proc.terminate()
        assert proc.wait(30) == 0
        assert not list(tmp_path.glob("kubefort-admission-metrics-*"))
        # a server killed outright: its workers notice and stop on their own
        proc = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while len(_children(proc.pid)) < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        workers = _children(proc.pid)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{w}").exists() and "Z" not in _state(w) for w in workers):
            assert time.monotonic() < deadline, "workers outlived their server"
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            for w in _children(proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w, 9)
            proc.kill()
            proc.wait()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def _answers(get: Callable[..., tuple[int, bytes]]) -> bool:
    try:
        return get("GET", "/healthz")[0] == 200
    except OSError:
        return False
