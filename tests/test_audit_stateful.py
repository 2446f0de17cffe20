"""The stateful audit checks KF-AUDIT-020..024 and the usage baseline (kubefort/audit/baseline.py):
windows against an independent model of their rule (any interleaving of callers, out-of-order
timestamps), memory bounds under floods, the baseline's learning window and file format, and the
documented scope of each check. Exact per-event outcomes are in the fixtures
(tests/fixtures/audit/checks/KF-AUDIT-02x.yaml, run by tests/test_audit_checks.py)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubefort.audit.analyzer import AuditAnalyzer, AuditSettings
from kubefort.audit.baseline import BaselineError, UsageBaseline, action_of, parse_duration
from kubefort.audit.context import AuditContext, AuditServices
from kubefort.audit.event import AuditEvent
from kubefort.checks.audit import bursts, firstseen, networks, secret_reads
from kubefort.checks.audit.windows import ADDRESS_CACHE
from kubefort.config import ConfigError, make_options
from kubefort.kube.rbac import builtin
from kubefort.model import NotApplicable, Outcome, Status
from kubefort.registry import REGISTRY

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC).timestamp()
SA = "system:serviceaccount:shop:web"


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event(n: int, t: float | None = T0, **kw: Any) -> AuditEvent:
    raw: dict[str, Any] = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Event",
        "level": "Metadata",
        "auditID": f"id-{n}",
        "stage": "ResponseComplete",
        "user": {"username": SA, "groups": ["system:serviceaccounts", "system:authenticated"]},
        "sourceIPs": ["10.244.1.17"],
        "verb": "get",
        "objectRef": {"resource": "configmaps", "namespace": "shop", "name": "settings", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
    }
    if t is not None:
        raw["stageTimestamp"] = stamp(t)
    raw.update(kw)
    return AuditEvent.read(raw, "test.jsonl", n + 1)


def analyzer(check_id: str, options: object | None = None, services: AuditServices | None = None) -> AuditAnalyzer:
    opts = {check_id: options} if options is not None else {}
    return AuditAnalyzer(AuditSettings((check_id,), options=opts), REGISTRY, services)


def verdict(a: AuditAnalyzer, ev: AuditEvent) -> str:
    """failed / not-evaluated / passed / not-applicable for one event."""
    before = a.passed
    outs = a.feed(ev)
    assert len(outs) <= 1
    if outs:
        return outs[0].status.value
    return "passed" if a.passed > before else "not-applicable"


def scope(check_id: str) -> str:
    text = REGISTRY.get(check_id).sections().get("Not applicable when", "")
    return " ".join(text.split()).lower()


def norm(s: str) -> str:
    return " ".join(s.split()).lower()


# ------------------------------------------------------------------------------------------------
# documented scope: every NotApplicable reason is in the check's "Not applicable when" section
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("check_id", "reason"),
    [
        ("KF-AUDIT-021", networks.OFF),
        ("KF-AUDIT-022", networks.NOT_A_TOKEN),
        ("KF-AUDIT-022", networks.NOTHING_TO_FOLLOW),
        ("KF-AUDIT-024", firstseen.NO_BASELINE),
        ("KF-AUDIT-024", firstseen.LEARNING),
    ],
)
def test_not_applicable_reasons_are_documented(check_id: str, reason: str) -> None:
    assert norm(reason) in scope(check_id)


def _raises(check_id: str, ev: AuditEvent, options: object, services: AuditServices | None = None) -> str:
    meta = REGISTRY.get(check_id)
    ctx: AuditContext[Any] = AuditContext(options, services=services or AuditServices())
    with pytest.raises(NotApplicable) as exc:
        list(meta.func(ev, ctx))  # type: ignore[call-arg, arg-type, misc]
    return str(exc.value)


def test_the_checks_raise_exactly_the_documented_reasons() -> None:
    assert _raises("KF-AUDIT-021", event(1), networks.NetworkOptions()) == networks.OFF
    alice = event(2, user={"username": "alice"})
    assert _raises("KF-AUDIT-022", alice, networks.TokenAddressOptions()) == networks.NOT_A_TOKEN
    assert _raises("KF-AUDIT-022", event(3), networks.TokenAddressOptions()) == networks.NOTHING_TO_FOLLOW
    assert _raises("KF-AUDIT-024", event(4), firstseen.FirstSeenOptions()) == firstseen.NO_BASELINE
    learning = AuditServices(baseline=UsageBaseline(learn_for=3600))
    assert _raises("KF-AUDIT-024", event(5), firstseen.FirstSeenOptions(), learning) == firstseen.LEARNING


def test_checks_off_by_default_give_no_outcome() -> None:
    """Without configuration KF-AUDIT-021 and KF-AUDIT-024 judge nothing (no pass, no finding)."""
    for check_id in ("KF-AUDIT-021", "KF-AUDIT-024"):
        a = analyzer(check_id)
        assert [verdict(a, event(i, sourceIPs=["203.0.113.9"])) for i in range(3)] == ["not-applicable"] * 3


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-023: bursts against an independent model
# ------------------------------------------------------------------------------------------------
CALLERS = [
    {"user": {"username": "alice"}, "sourceIPs": ["10.0.0.1"]},
    {"user": {"username": "bob"}, "sourceIPs": ["10.0.0.1"]},
    {"user": {}, "sourceIPs": ["1.1.1.1", "203.0.113.5"]},  # unauthenticated, keyed by the last address
    {"user": {"username": "system:anonymous"}, "sourceIPs": ["203.0.113.5"]},  # the same connection
    {"user": {}, "sourceIPs": ["203.0.113.6"]},
]
CALLER_KEY = [0, 1, 2, 2, 3]


def model_reports(
    stream: list[tuple[int, int, bool]], n: int, w: int
) -> tuple[list[int], dict[int, list[float]], dict[int, list[float]]]:
    """(indices reported by the rule, per key the clamped refusal times, per key the start times of
    bursts in continuous time): a burst starts at t when c(t-) < n <= c(t), c(t) counting the
    key's refusals stamped in [t - w, t] (integer times: c(t-) counts [t - w, t - 1])."""
    clock: dict[int, float] = {}
    times: dict[int, list[float]] = {}
    reported = []
    for i, (caller, t, refused) in enumerate(stream):
        if not refused:
            continue
        key = CALLER_KEY[caller]
        tau = max(t, clock.get(key, t))
        clock[key] = tau
        prior = times.setdefault(key, [])
        if sum(1 for x in prior if x >= tau - w) == n - 1:
            reported.append(i)
        prior.append(tau)
    starts = {}
    for key, ts in times.items():
        starts[key] = [
            t
            for t in sorted(set(ts))
            if sum(1 for x in ts if t - w <= x <= t - 1) < n <= sum(1 for x in ts if t - w <= x <= t)
        ]
    return reported, times, starts


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(CALLERS) - 1), st.integers(-30, 40), st.booleans()),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 5),
    st.integers(1, 60),
)
def test_bursts_are_reported_exactly_once_when_a_window_reaches_the_threshold(
    steps: list[tuple[int, int, bool]], n: int, w: int
) -> None:
    stream = []
    t = 0
    for caller, step, refused in steps:
        t += step  # negative steps: timestamps that go backwards
        stream.append((caller, t, refused))
    a = analyzer("KF-AUDIT-023", bursts.BurstOptions(threshold=n, window_seconds=w, max_tracked=100))
    got = []
    for i, (caller, t, refused) in enumerate(stream):
        ev = event(i, T0 + t, responseStatus={"code": 403 if refused else 200}, **CALLERS[caller])
        outs = a.feed(ev)
        if outs:
            assert outs[0].status is Status.FAILED
            assert f"within {w}s (threshold {n})" in outs[0].message
            got.append(i)
    reported, _times, starts = model_reports(stream, n, w)
    assert got == reported
    # once per burst: the reports of each key are exactly the starts of its bursts in continuous time
    clock: dict[int, float] = {}
    report_times: dict[int, list[float]] = {}
    for i, (caller, t, refused) in enumerate(stream):
        if refused:
            key = CALLER_KEY[caller]
            clock[key] = max(t, clock.get(key, t))
            if i in reported:
                report_times.setdefault(key, []).append(clock[key])
    assert report_times == {k: v for k, v in starts.items() if v}


def test_burst_memory_is_bounded_by_count_and_by_time() -> None:
    a = analyzer("KF-AUDIT-023", bursts.BurstOptions(threshold=2, window_seconds=60, max_tracked=100))
    for i in range(5000):  # a flood of distinct principals, all within one window
        a.feed(event(i, T0, user={"username": f"user-{i}"}, responseStatus={"code": 403}))
    callers = a.contexts["KF-AUDIT-023"].scratch["callers"]
    assert len(callers) == 100 and callers.evicted == 4900
    assert all(len(w) <= 2 for w in callers.data.values())
    for i in range(50):  # one caller refused for a long time: its window keeps at most `threshold`
        a.feed(event(10_000 + i, T0 + 30 * i, user={"username": "steady"}, responseStatus={"code": 403}))
    assert [t for t, _ in callers.get("steady") or ()] == [T0 + 30 * 48, T0 + 30 * 49]


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-022: a token's addresses against a model; bounds
# ------------------------------------------------------------------------------------------------
def token_event(n: int, t: float, jti: str, ip: str) -> AuditEvent:
    user = {"username": SA, "extra": {networks.CREDENTIAL_ID: [f"JTI={jti}"]}}
    return event(n, t, user=user, sourceIPs=[ip])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("ab"), st.integers(-600, 1200), st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]))
    ),
    st.integers(60, 3600),
)
def test_a_token_is_reported_at_each_new_address_while_others_are_remembered(
    steps: list[tuple[str, int, str]], w: int
) -> None:
    a = analyzer("KF-AUDIT-022", networks.TokenAddressOptions(window_seconds=w))
    clock: dict[str, float] = {}
    seen: dict[str, dict[str, float]] = {}
    t = 0
    for i, (jti, step, ip) in enumerate(steps):
        t += step
        tau = max(t, clock.get(jti, t))
        clock[jti] = tau
        origins = {o: at for o, at in seen.get(jti, {}).items() if at >= tau - w}
        expected = "failed" if origins and ip not in origins else "passed"
        origins[ip] = tau
        seen[jti] = origins
        assert verdict(a, token_event(i, T0 + t, jti, ip)) == expected, (i, jti, ip)


def test_token_memory_is_bounded() -> None:
    a = analyzer("KF-AUDIT-022", networks.TokenAddressOptions(max_tracked=100))
    for i in range(3000):
        a.feed(token_event(i, T0, f"t{i}", "10.0.0.1"))
    tokens = a.contexts["KF-AUDIT-022"].scratch["tokens"]
    assert len(tokens) == 100
    for i in range(50):  # one token from 50 addresses: at most 8 remembered
        a.feed(token_event(10_000 + i, T0, "one", f"10.1.0.{i}"))
    assert len(tokens.get("JTI=one").origins) == networks.ORIGINS_PER_TOKEN


def test_address_cache_is_bounded() -> None:
    a = analyzer("KF-AUDIT-021", make_options(REGISTRY.get("KF-AUDIT-021"), {"allowed_cidrs": ["10.0.0.0/8"]}, "t"))
    for i in range(ADDRESS_CACHE + 500):
        a.feed(event(i, sourceIPs=[f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"]))
    assert len(a.contexts["KF-AUDIT-021"].scratch["nets"].cache) <= ADDRESS_CACHE


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-020: default readers, the baseline, the cluster's release
# ------------------------------------------------------------------------------------------------
def secret_read(n: int, user: str, groups: tuple[str, ...] = (), **kw: Any) -> AuditEvent:
    ref = {"resource": "secrets", "namespace": "shop", "name": "db", "apiVersion": "v1"}
    return event(n, user={"username": user, "groups": list(groups)}, objectRef=ref, **kw)


def test_the_docs_name_every_default_reader_of_the_newest_release() -> None:
    doc = REGISTRY.get("KF-AUDIT-020").doc
    readers = secret_reads.default_readers(builtin.latest())
    for name in list(readers.users) + list(readers.groups):
        short = name.rsplit(":", 1)[-1] if name.startswith("system:serviceaccount:") else name
        assert f"`{short}`" in doc, name


def test_default_readers_follow_the_clusters_release() -> None:
    """expand-controller read Secrets in the bootstrap policy up to 1.31 only."""
    expand = "system:serviceaccount:kube-system:expand-controller"
    opts = secret_reads.SecretReaderOptions()
    old = analyzer("KF-AUDIT-020", opts, AuditServices(rbac=type("K", (), {"version": "1.29"})()))
    assert verdict(old, secret_read(1, expand)) == "passed"
    assert verdict(analyzer("KF-AUDIT-020", opts), secret_read(2, expand)) == "failed"
    off = analyzer("KF-AUDIT-020", secret_reads.SecretReaderOptions(default_readers=False))
    assert verdict(off, secret_read(3, "system:kube-controller-manager")) == "failed"
    assert verdict(off, secret_read(4, "system:node:n1", ("system:nodes",))) == "failed"


def test_baseline_readers() -> None:
    known = UsageBaseline()
    known.record(SA, "list secrets", T0 - 100, T0 - 50)
    known.record("other", "get configmaps", T0 - 100, T0 - 50)
    on = secret_reads.SecretReaderOptions()
    assert verdict(analyzer("KF-AUDIT-020", on, AuditServices(baseline=known)), secret_read(1, SA)) == "passed"
    assert verdict(analyzer("KF-AUDIT-020", on, AuditServices(baseline=known)), secret_read(2, "other")) == "failed"
    off = secret_reads.SecretReaderOptions(baseline_readers=False)
    assert verdict(analyzer("KF-AUDIT-020", off, AuditServices(baseline=known)), secret_read(3, SA)) == "failed"
    learning = UsageBaseline(learn_for=3600)  # reads inside the learning window are being learned
    a = analyzer("KF-AUDIT-020", on, AuditServices(baseline=learning))
    learning.observe(event(0, T0))  # opens the window at T0
    assert verdict(a, secret_read(4, "other", stageTimestamp=stamp(T0 + 10))) == "passed"
    assert verdict(a, secret_read(5, "other", stageTimestamp=stamp(T0 + 3600))) == "failed"


# ------------------------------------------------------------------------------------------------
# KF-AUDIT-024 with the driver's baseline
# ------------------------------------------------------------------------------------------------
def test_first_seen_against_a_stored_baseline(tmp_path: Path) -> None:
    b = UsageBaseline()
    b.record(SA, "get configmaps", T0 - 7 * 86400, T0 - 86400)
    path = tmp_path / "usage.json"
    b.save(path)
    loaded = UsageBaseline.load(path)
    opts = firstseen.FirstSeenOptions(learn_for="1h")  # ignored: the driver's baseline wins
    a = analyzer("KF-AUDIT-024", opts, AuditServices(baseline=loaded))
    assert verdict(a, event(1, None)) == "passed"  # no learning window: no time needed
    list_secrets = {"verb": "list", "objectRef": {"resource": "secrets", "namespace": "shop"}}
    assert verdict(a, event(2, T0, **list_secrets)) == "failed"
    assert verdict(a, event(3, T0 + 5, **list_secrets)) == "passed"
    assert a.contexts["KF-AUDIT-024"].scratch.get("own") is None
    assert loaded.knows(SA, "get configmaps") and not loaded.knows(SA, "list secrets")


STREAM = [
    (0, {}),
    (600, {"verb": "list", "objectRef": {"resource": "pods", "namespace": "a"}}),
    (4000, {}),
    (4100, {"verb": "list", "objectRef": {"resource": "pods", "namespace": "b"}}),
    (4200, {"verb": "delete", "objectRef": {"resource": "pods", "namespace": "b", "name": "x"}}),
    (100, {"verb": "watch", "objectRef": {"resource": "secrets", "namespace": "b"}}),  # late, inside the window
    (4300, {"verb": "watch", "objectRef": {"resource": "secrets", "namespace": "c"}}),
    (4400, {"verb": "delete", "objectRef": {"resource": "pods", "namespace": "c", "name": "y"}}),
]


@pytest.mark.parametrize("observe_first", [True, False])
def test_the_driver_may_feed_the_baseline_before_or_after_the_analyzer(observe_first: bool) -> None:
    baseline = UsageBaseline(learn_for=3600)
    a = analyzer("KF-AUDIT-024", firstseen.FirstSeenOptions(), AuditServices(baseline=baseline))
    got = []
    for i, (dt, kw) in enumerate(STREAM):
        ev = event(i, T0 + dt, **kw)
        if observe_first:
            baseline.observe(ev)
        got.append(verdict(a, ev))
        if not observe_first:
            baseline.observe(ev)
    assert got == [
        "not-applicable",
        "not-applicable",
        "passed",
        "passed",
        "failed",
        "not-applicable",
        "passed",
        "passed",
    ]


def test_first_seen_memory_is_bounded() -> None:
    opts = firstseen.FirstSeenOptions(learn_for="1m", max_tracked=100, max_entries=50)
    a = analyzer("KF-AUDIT-024", opts)
    for i in range(200):  # learning: 200 principals, 50 kept
        a.feed(event(i, T0, user={"username": f"learner-{i}"}))
    own = a.contexts["KF-AUDIT-024"].scratch["own"]
    assert own.entries == 50 and own.dropped == 150
    for i in range(3000):  # after learning: a flood of new principals
        a.feed(event(1000 + i, T0 + 120, user={"username": f"new-{i}"}))
    assert len(a.contexts["KF-AUDIT-024"].scratch["reported"]) == 100
    assert own.entries == 50


# ------------------------------------------------------------------------------------------------
# the usage baseline
# ------------------------------------------------------------------------------------------------
@given(st.lists(st.tuples(st.integers(1, 500), st.sampled_from("wdhms")), min_size=1, max_size=4))
def test_durations(parts: list[tuple[int, str]]) -> None:
    units = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
    text = "".join(f"{n}{u}" for n, u in parts)
    assert parse_duration(text) == sum(n * units[u] for n, u in parts)


@pytest.mark.parametrize("text", ["", "7", "7x", "-1d", "1d 2h", "0s", "d", "1.d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_what_is_learned() -> None:
    b = UsageBaseline(learn_for=3600)
    assert b.learning(T0)  # nothing seen yet: the first event opens the window
    assert not b.observe(event(0, T0, stage="RequestReceived"))
    assert not b.observe(event(1, T0, responseStatus={"code": 403}))
    assert not b.observe(event(2, T0, objectRef=None, requestURI="/healthz"))
    assert not b.observe(event(3, None))
    assert b.observe(event(4, T0))  # opens [T0, T0 + 1h)
    assert b.observe(event(5, T0 - 50, verb="list"))  # stamped earlier: inside
    assert not b.observe(event(6, T0 + 3600, verb="watch"))  # the window's end is excluded
    assert b.observe(event(7, T0 + 3599, impersonatedUser={"username": "bob"}))
    assert b.principals == {
        SA: {"get configmaps": [T0, T0], "list configmaps": [T0 - 50, T0 - 50]},
        "bob": {"get configmaps": [T0 + 3599, T0 + 3599]},
    }
    assert b.summary()["window"] == {"from": stamp(T0 - 50), "until": stamp(T0 + 3600)}
    assert (
        action_of(
            event(8, objectRef={"resource": "deployments", "apiGroup": "apps", "subresource": "scale"}, verb="patch")
        )
        == "patch deployments.apps/scale"
    )


_names = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        _names,
        st.dictionaries(_names, st.tuples(st.integers(0, 10**15), st.integers(0, 10**9)), min_size=1, max_size=4),
        max_size=5,
    )
)
def test_baseline_files_round_trip(data: dict[str, dict[str, tuple[int, int]]]) -> None:
    b = UsageBaseline()
    for p, acts in data.items():
        for a, (first_us, span_us) in acts.items():
            first = T0 + first_us / 1e6
            b.record(p, a, first, first + span_us / 1e6)
    text = json.dumps(b.to_json())
    again = UsageBaseline.from_json(json.loads(text))
    assert again.to_json() == b.to_json()
    assert all(again.knows(p, a) for p, acts in data.items() for a in acts)


def test_baseline_file_errors(tmp_path: Path) -> None:
    good = UsageBaseline()
    good.record("p", "get pods", T0, T0)
    doc = good.to_json()
    cases = [
        ("{not json", "not JSON"),
        (json.dumps({**doc, "kind": "Other"}), "not a kubefort usage baseline"),
        (json.dumps({**doc, "version": 2}), "usage baseline version 2; this kubefort reads version 1"),
        (json.dumps({**doc, "principals": []}), "principals is list, expected an object"),
        (json.dumps({**doc, "principals": {"p": {"get pods": ["yesterday", "today"]}}}), "is not an RFC 3339 time"),
        (json.dumps({**doc, "principals": {"p": {"get pods": [1]}}}), "is not [first seen, last seen]"),
    ]
    for i, (text, message) in enumerate(cases):
        path = tmp_path / f"b{i}.json"
        path.write_text(text)
        with pytest.raises(BaselineError, match=message.replace("[", r"\[").replace("]", r"\]")) as exc:
            UsageBaseline.load(path)
        assert str(path) in str(exc.value)


# ------------------------------------------------------------------------------------------------
# options: validated when .kubefort.yaml is read
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("check_id", "raw", "message"),
    [
        ("KF-AUDIT-021", {"allowed_cidrs": ["10.0.0.0/33"]}, "allowed_cidrs: '10.0.0.0/33' is not a CIDR"),
        ("KF-AUDIT-022", {"node_cidrs": ["nodes"]}, "node_cidrs: 'nodes' is not a CIDR"),
        ("KF-AUDIT-022", {"window_seconds": 0}, "window_seconds: 0 must be at least 1"),
        ("KF-AUDIT-023", {"threshold": 0}, "threshold: 0 must be at least 1"),
        ("KF-AUDIT-024", {"learn_for": "7x"}, "learn_for: '7x' is not a duration"),
        ("KF-AUDIT-020", {"expected_users": "alice"}, "expected a list of strings"),
    ],
)
def test_bad_options_are_refused_with_their_name(check_id: str, raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        make_options(REGISTRY.get(check_id), raw, ".kubefort.yaml")


def test_findings_carry_the_event() -> None:
    a = analyzer("KF-AUDIT-023", dataclasses.replace(bursts.BurstOptions(), threshold=1))
    outs: list[Outcome] = a.feed(event(1, responseStatus={"code": 403}))
    assert outs[0].event is not None and outs[0].event["auditID"] == "id-1"
    assert outs[0].location is not None and outs[0].location.line == 2
