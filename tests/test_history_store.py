"""The history store (kubefort.history): schema and migrations, recording, tracking findings by
fingerprint, the queries, and bad input. Every test runs on SQLite AND on a real PostgreSQL
server (tests/history_db.py), except the few that are about one database's own behaviour."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from history_db import postgres, store_url  # noqa: F401 - fixtures
from kubefort.history import migrate
from kubefort.history.diff import compare, diff
from kubefort.history.schema import metadata, pack_ids, unpack_ids
from kubefort.history.store import Store, StoreError, default_path, engine_url, resolve_url
from kubefort.history.target import TargetLabel
from kubefort.model import Outcome, ResourceId, ScanResult, Severity, Source, Status
from kubefort.registry import REGISTRY

T0 = 1_700_000_000.0


def outcome(n: int, status: Status = Status.FAILED) -> Outcome:
    return Outcome(
        check_id="KF-POD-001",
        status=status,
        resource=ResourceId("apps/v1", "Deployment", "shop", f"web-{n}"),
        source=Source("apps/web.yaml", 0, 1 + n),
        container="app",
        message=f"container 'app' of web-{n} is privileged",
        path=("spec", "template", "spec", "containers", 0, "securityContext", "privileged"),
        fingerprint=f"fp{n:06d}",
        severity=Severity.CRITICAL,
    )


def result_with(fps: Iterable[int], t: float, *, complete: bool = True) -> ScanResult:
    outcomes = [outcome(n) for n in sorted(fps)]
    if not complete:
        outcomes.append(Outcome("KF-INPUT-001", Status.NOT_EVALUATED, None, Source("broken.yaml"), message="bad"))
    return ScanResult(
        tool_version="0.test",
        outcomes=outcomes,
        inputs=[],
        resources=[(ResourceId("apps/v1", "Deployment", "shop", "web"), Source("apps/web.yaml"))],
        checks_run=["KF-POD-001"],
        finished_at=t,
    )


def label(key: str = "cluster:test") -> TargetLabel:
    return TargetLabel(key, key.partition(":")[0], {"context": "test"}, {"commit": "abc"})


@pytest.fixture
def store(store_url: str):  # noqa: F811 - the fixture
    s = Store.open(store_url)
    yield s
    s.close()


def record(store: Store, fps: Iterable[int], t: float, *, complete: bool = True, key: str = "cluster:test"):
    return store.record(result_with(fps, t, complete=complete), REGISTRY, kind="cluster", target=label(key))


def states(store: Store, key: str = "cluster:test") -> dict[str, tuple]:
    return {
        f.fingerprint: (f.state, f.first_seen_at, f.last_seen_at, f.fixed_at, f.reopened)
        for f in store.findings(target=key)
    }


# ---------------------------------------------------------------------------------------------
# schema and migrations
# ---------------------------------------------------------------------------------------------
def test_head_is_the_newest_shipped_revision():
    assert migrate.heads() == [migrate.HEAD]


def test_migrated_schema_is_the_model(store_url):  # noqa: F811
    """The Alembic revisions create exactly schema.py's tables, indexes and constraints."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    Store.open(store_url).close()
    engine = create_engine(engine_url(store_url))
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": migrate.VERSION_TABLE})
        assert compare_metadata(ctx, metadata) == []
        assert migrate.current_revisions(conn) == [migrate.HEAD]
    engine.dispose()


def test_a_database_of_a_newer_kubefort_is_refused_untouched(store_url):  # noqa: F811
    from sqlalchemy import create_engine, text

    with Store.open(store_url) as s:
        record(s, [1], T0)
    engine = create_engine(engine_url(store_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE kubefort_alembic_version SET version_num = '0042'"))
    with pytest.raises(StoreError) as err:
        Store.open(store_url)
    assert "written by a newer kubefort (schema revision 0042); upgrade kubefort" in str(err.value)
    with engine.connect() as conn:  # nothing was changed
        assert conn.execute(text("SELECT version_num FROM kubefort_alembic_version")).scalar() == "0042"
        assert conn.execute(text("SELECT count(*) FROM scan")).scalar() == 1
    engine.dispose()


def test_kubefort_tables_without_the_version_table_are_refused(store_url):  # noqa: F811
    from sqlalchemy import create_engine, text

    engine = create_engine(engine_url(store_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE scan (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(StoreError, match=r"has tables named like kubefort's \(scan\) but no kubefort_alembic_version"):
        Store.open(store_url)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"not": "a database"}) * 200)
    with pytest.raises(StoreError) as err:
        Store.open(f"sqlite:///{path}")
    assert str(err.value) == f"cannot open the store sqlite:///{path}: not a SQLite database"
    assert json.loads(path.read_text()[: len(json.dumps({"not": "a database"}))])  # untouched


def test_a_sqlite_database_of_something_else_is_refused(tmp_path):
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER)")
    with pytest.raises(StoreError, match=r"is a SQLite database of something else \(tables: users\)"):
        Store.open(f"sqlite:///{path}")


def test_unwritable_data_directory(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    monkeypatch.delenv("KUBEFORT_STORE", raising=False)
    with pytest.raises(StoreError) as err:
        Store.open(None)
    assert (
        str(err.value)
        == f"cannot create the directory {blocker}/kubefort for sqlite:///{blocker}/kubefort/history.db: not a directory"
    )


def test_default_url_and_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("KUBEFORT_STORE", raising=False)
    assert default_path() == tmp_path / "data" / "kubefort" / "history.db"
    assert resolve_url(None) == resolve_url("") == f"sqlite:///{tmp_path}/data/kubefort/history.db"
    with Store.open(None) as s:
        record(s, [1], T0)
    assert (tmp_path / "data" / "kubefort" / "history.db").is_file()
    monkeypatch.setenv("KUBEFORT_STORE", f"sqlite:///{tmp_path}/env.db")
    assert resolve_url("") == f"sqlite:///{tmp_path}/env.db"
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgres://u@h:5433/db", "postgresql+psycopg://u@h:5433/db"),
        ("sqlite:////abs/h.db", "sqlite:////abs/h.db"),
        ("sqlite:///rel/h.db", "sqlite:///rel/h.db"),
    ],
)
def test_engine_urls(url, expected):
    assert engine_url(url) == expected


@pytest.mark.parametrize(
    ("url", "needle"), [("mysql://h/db", "unsupported store URL scheme 'mysql'"), ("h.db", "is not a store URL")]
)
def test_bad_urls(url, needle):
    with pytest.raises(StoreError, match=needle):
        Store.open(url)


@given(st.lists(st.integers(min_value=1, max_value=2**40), unique=True, max_size=200))
def test_finding_ids_pack_and_unpack(ids):
    assert unpack_ids(pack_ids(ids)) == sorted(ids)


# ---------------------------------------------------------------------------------------------
# recording a real scan
# ---------------------------------------------------------------------------------------------
def real_scan(path: str) -> ScanResult:
    from kubefort import engine
    from kubefort.drivers import manifests
    from kubefort.loaders.manifests import discover

    ids = [m.id for m in REGISTRY if m.target != "audit"]
    return manifests.scan(discover([path], ()), engine.EngineSettings(check_ids=ids, keep_passed=False), jobs=1)


def test_record_a_real_scan_and_read_it_back(store):
    from kubefort.reporters.json import build

    result = real_scan(str(ROOT / "examples" / "insecure-app"))
    row = store.record(result, REGISTRY, kind="manifests", target=label("repo:example"))
    report = build(result, REGISTRY)
    assert row.summary == report["summary"]
    assert row.check_counts == result.check_counts()
    assert row.objects_by_kind == dict(Counter(rid.kind for rid, _ in result.resources))
    assert sum(row.objects_by_kind.values()) == 5
    assert row.labels == {"context": "test", "commit": "abc"}
    assert store.scans() == [row]
    assert (
        store.scan(row.uid)
        == store.scan(row.uid[:6])
        == store.scan("latest")
        == store.scan("repo:example@latest")
        == row
    )
    assert store.targets()[0].key == "repo:example"
    findings = store.findings(target="repo:example")
    failed = {r["fingerprint"] for r in report["results"] if r["outcome"] == "failed"}
    assert {f.fingerprint for f in findings} == failed
    assert {f.fingerprint for f in store.scan_findings(row.uid)} == failed
    by_fp = {r["fingerprint"]: r for r in report["results"]}
    for f in findings:
        r = by_fp[f.fingerprint]
        assert (f.check_id, f.severity, f.message) == (r["check_id"], r["severity"], r["message"])
        assert f.resource == {k: r["resource"][k] for k in ("apiVersion", "kind", "namespace", "name")}
        assert (f.file, f.line, f.path, f.container) == (r["file"], r["line"], r["path"], r["container"])
        assert f.remediation == r["remediation"] == REGISTRY.get(f.check_id).remediation
        assert (f.state, f.first_seen_at, f.reopened) == ("open", row.finished_at, 0)
    assert len(store.episodes()) == len(failed)


def test_suppressed_and_passed_outcomes_are_counted_not_tracked(store):
    result = result_with([1, 2], T0)
    result.outcomes.append(outcome(3, Status.SUPPRESSED))
    result.outcomes.append(outcome(4, Status.PASSED))
    row = store.record(result, REGISTRY, kind="cluster", target=label())
    assert row.summary["outcomes"] == {"passed": 1, "failed": 2, "suppressed": 1, "not-evaluated": 0}
    assert set(states(store)) == {"fp000001", "fp000002"}


def test_record_rejects_an_unknown_kind(store):
    with pytest.raises(ValueError, match="unknown scan kind"):
        store.record(result_with([1], T0), REGISTRY, kind="galaxy", target=label())


# ---------------------------------------------------------------------------------------------
# tracking
# ---------------------------------------------------------------------------------------------
def test_fixed_reopened_and_episodes(store):
    record(store, [1, 2, 3], T0)
    record(store, [2, 3], T0 + 10)  # 1 fixed
    record(store, [3], T0 + 20, complete=False)  # incomplete: 2 stays open
    record(store, [1, 3], T0 + 30)  # 1 reopened, 2 fixed
    assert states(store) == {
        "fp000001": ("open", T0, T0 + 30, None, 1),
        "fp000002": ("fixed", T0, T0 + 10, T0 + 30, 0),
        "fp000003": ("open", T0, T0 + 30, None, 0),
    }
    eps = sorted((e.fingerprint, e.opened_at, e.fixed_at) for e in store.episodes())
    assert eps == [
        ("fp000001", T0, T0 + 10),
        ("fp000001", T0 + 30, None),
        ("fp000002", T0, T0 + 30),
        ("fp000003", T0, None),
    ]
    assert sorted(e.fingerprint for e in store.episodes(since=T0 + 15)) == ["fp000001", "fp000002", "fp000003"]


def test_an_older_scan_is_stored_without_changing_states(store):
    record(store, [1, 2], T0 + 100)
    before = states(store)
    late = record(store, [2, 7], T0 + 50)  # older than the newest, and complete: fixes nothing
    after = states(store)
    assert {k: v for k, v in after.items() if k != "fp000007"} == before
    assert after["fp000007"] == ("fixed", T0 + 50, T0 + 50, T0 + 100, 0)  # the later complete scan lacked it
    record(store, [5], T0 + 100, complete=False, key="cluster:late")
    record(store, [6], T0 + 50, key="cluster:late")
    assert states(store, "cluster:late")["fp000006"] == ("open", T0 + 50, T0 + 50, None, 0)  # no later complete scan
    assert {f.fingerprint for f in store.scan_findings(late.uid)} == {"fp000002", "fp000007"}
    record(store, [1], T0 + 200)  # 2 and 7 fixed now
    record(store, [8], T0 + 150)  # 8 only in a late scan: fixed at the first later complete scan (T0+200)
    assert states(store)["fp000008"] == ("fixed", T0 + 150, T0 + 150, T0 + 200, 0)
    assert [s.finished_at for s in store.scans(target="cluster:test")] == [T0 + 50, T0 + 100, T0 + 150, T0 + 200]


def test_targets_are_tracked_apart(store):
    record(store, [1], T0, key="cluster:a")
    record(store, [2], T0 + 1, key="cluster:b")  # complete, but of another target: fixes nothing of a
    assert states(store, "cluster:a")["fp000001"][0] == "open"
    assert [t.key for t in store.targets()] == ["cluster:a", "cluster:b"]
    assert [s.target for s in store.scans(target="cluster:b")] == ["cluster:b"]


class Model:
    """The tracking rules, written plainly (the reference for the property test)."""

    def __init__(self) -> None:
        self.rows: dict[str, list] = {}  # fp -> [state, first, last, fixed_at, reopened]
        self.episodes: list[list] = []  # [fp, opened, fixed]
        self.scans: list[tuple[float, bool]] = []

    def apply(self, fps: set[int], t: float, complete: bool) -> None:
        names = {f"fp{n:06d}" for n in fps}
        newest = max((s for s, _ in self.scans), default=None)
        in_order = newest is None or t >= newest
        later = min((s for s, c in self.scans if c and s > t), default=None)
        self.scans.append((t, complete))
        for fp in sorted(names):
            row = self.rows.get(fp)
            if row is None:
                fixed = None if in_order else later
                self.rows[fp] = ["open" if fixed is None else "fixed", t, t, fixed, 0]
                self.episodes.append([fp, t, fixed])
            elif in_order and row[0] == "fixed":
                row[:] = ["open", row[1], t, None, row[4] + 1]
                self.episodes.append([fp, t, None])
            elif in_order:
                row[2] = t
        if in_order and complete:
            for fp, row in self.rows.items():
                if row[0] == "open" and fp not in names:
                    row[0], row[3] = "fixed", t
                    for ep in self.episodes:
                        if ep[0] == fp and ep[2] is None:
                            ep[2] = t


scans_strategy = st.lists(
    st.tuples(st.sets(st.integers(0, 7), max_size=6), st.integers(0, 40), st.booleans()), min_size=1, max_size=7
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scans=scans_strategy)
def test_tracking_follows_the_rules(store, scans):
    key = f"cluster:{uuid.uuid4().hex}"  # every example a target of its own
    model = Model()
    for fps, minute, complete in scans:
        t = T0 + minute * 60
        record(store, fps, t, complete=complete, key=key)
        model.apply(fps, t, complete)
    assert states(store, key) == {fp: tuple(r) for fp, r in model.rows.items()}
    got = sorted((e.fingerprint, e.opened_at, e.fixed_at or 0) for e in store.episodes(target=key))
    assert got == sorted((fp, o, f or 0) for fp, o, f in model.episodes)


# ---------------------------------------------------------------------------------------------
# references and diff
# ---------------------------------------------------------------------------------------------
def test_scan_references(store):
    a = record(store, [1], T0)
    b = record(store, [2], T0 + 1)
    c = record(store, [3], T0 + 2, key="cluster:other")
    assert store.scan("latest") == c
    assert store.scan("cluster:test@latest") == b
    assert store.scan("cluster:test@-1") == a
    assert store.scan(a.uid.upper()) == a
    for ref, needle in [
        ("cluster:test@-2", "target 'cluster:test' has 2 scans: cluster:test@-2 is before the first"),
        ("cluster:nope@latest", "no scan of target 'cluster:nope'"),
        ("abc", "unknown scan 'abc': give a scan id"),
        ("zzzzzzzz", "unknown scan 'zzzzzzzz': give a scan id"),
        ("0123456789abcdef0123456789abcdef", "unknown scan '0123456789abcdef0123456789abcdef': no stored scan id"),
    ]:
        with pytest.raises(StoreError) as err:
            store.scan(ref)
        assert needle in str(err.value)


def test_latest_of_an_empty_store(store):
    with pytest.raises(StoreError, match="the store holds no scan yet"):
        store.scan("latest")


def test_diff_new_fixed_unchanged(store):
    a = record(store, [1, 2, 3], T0)
    b = record(store, [2, 3, 4, 5], T0 + 10)
    d = diff(store, a.uid, "latest")
    assert (d.a, d.b) == (a, b)
    assert [f.fingerprint for f in d.new] == ["fp000004", "fp000005"]
    assert [f.fingerprint for f in d.fixed] == ["fp000001"]
    assert [f.fingerprint for f in d.unchanged] == ["fp000002", "fp000003"]
    assert d.as_dict()["counts"] == {"new": 2, "fixed": 1, "unchanged": 2}


@given(st.sets(st.integers(0, 30)), st.sets(st.integers(0, 30)))
def test_compare_partitions_the_findings(a, b):
    from kubefort.history.store import FindingRow

    def rows(ns):
        return [
            FindingRow(
                f"fp{n}", "t", "KF-POD-001", "high", {}, None, None, None, None, "", "", "open", 0, 0, None, None, 0
            )
            for n in ns
        ]

    new, fixed, same = compare(rows(a), rows(b))
    assert {f.fingerprint for f in new} == {f"fp{n}" for n in b - a}
    assert {f.fingerprint for f in fixed} == {f"fp{n}" for n in a - b}
    assert {f.fingerprint for f in same} == {f"fp{n}" for n in a & b}


# ---------------------------------------------------------------------------------------------
# concurrency and failures in the middle of a write
# ---------------------------------------------------------------------------------------------
WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = [{tests!r}]
    from test_history_store import record
    from kubefort.history.store import Store
    url, fps, t, start = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    store = Store.open(url)
    time.sleep(max(0.0, start - time.time()))
    {hook}
    record(store, [int(x) for x in fps.split(",")], t)
    print("stored")
    """
)


def writer(url: str, fps: str, t: float, start: float, hook: str = "") -> subprocess.Popen:
    code = WRITER.format(tests=str(ROOT / "tests"), hook=hook)
    return subprocess.Popen(
        [sys.executable, "-c", code, url, fps, str(t), str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_writers_of_one_target_both_land(store_url):  # noqa: F811
    Store.open(store_url).close()
    start = time.time() + 3.0  # both processes are up by then, and write at once
    procs = [writer(store_url, "1,2,3", T0 + 100, start), writer(store_url, "2,3,4", T0 + 200, start)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "stored"
    with Store.open(store_url) as s:
        scans = s.scans()
        assert [x.finished_at for x in scans] == [T0 + 100, T0 + 200]
        first = min(scans, key=lambda x: x.stored_at)
        got = states(s)
    if first.finished_at == T0 + 100:  # in order: the second scan fixed 1
        assert got["fp000001"] == ("fixed", T0 + 100, T0 + 100, T0 + 200, 0)
        assert got["fp000002"] == ("open", T0 + 100, T0 + 200, None, 0)
    else:  # the newer one landed first: the older one changed nothing, its new 1 fixed by the newer scan
        assert got["fp000001"] == ("fixed", T0 + 100, T0 + 100, T0 + 200, 0)
        assert got["fp000002"] == ("open", T0 + 200, T0 + 200, None, 0)
    assert got["fp000004"] == ("open", T0 + 200, T0 + 200, None, 0)


def assert_nothing_stored(url: str) -> None:
    with Store.open(url) as s:
        assert s.scans() == []
        assert s.findings() == []
        assert s.episodes() == []


def test_a_writer_killed_in_the_middle_stores_nothing(store_url):  # noqa: F811
    Store.open(store_url).close()
    hook = textwrap.dedent(
        """
        import os
        from sqlalchemy import event
        def die(conn, cursor, statement, *args):
            if statement.startswith("INSERT INTO episode"):
                os._exit(9)  # the scan and its findings are written, the transaction is not committed
        event.listen(store._engine, "before_cursor_execute", die)
        """
    )
    p = writer(store_url, "1,2,3", T0, 0, hook=hook)
    p.communicate(timeout=120)
    assert p.returncode == 9
    assert_nothing_stored(store_url)


def test_locked_sqlite_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    Store.open(url).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(30)",
            str(tmp_path / "h.db"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with Store.open(url, timeout=0.3) as s:
            t = time.perf_counter()
            with pytest.raises(StoreError) as err:
                record(s, [1], T0)
            assert time.perf_counter() - t < 10
        assert (
            str(err.value) == f"cannot store the scan in {url}: the database is locked by another writer (waited 0.3 s)"
        )
    finally:
        holder.kill()
        holder.wait()
    assert_nothing_stored(url)
    with Store.open(url) as s:  # once the lock is gone, writing works
        record(s, [1], T0)
        assert len(s.scans()) == 1


def test_postgres_backend_terminated_during_the_write(postgres):  # noqa: F811
    from sqlalchemy import event

    url = postgres.url(postgres.create_database())
    store = Store.open(url)

    def terminate(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO episode"):  # the scan and its findings (COPY) are written
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with postgres.admin() as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    event.listen(store._engine, "before_cursor_execute", terminate)
    with pytest.raises(StoreError) as err:
        record(store, [1, 2, 3], T0)
    store.close()
    msg = str(err.value)
    assert msg.startswith(f"cannot store the scan in postgresql://kubefort:***@127.0.0.1:{postgres.port}/")
    assert "the connection to the database was lost" in msg
    assert "s3cret" not in msg
    assert_nothing_stored(url)


@pytest.mark.slow
def test_postgres_server_killed_during_the_write():
    """The whole server goes away (SIGKILL) in the middle of a write: a clear error; after a
    restart nothing of the scan is there."""
    from sqlalchemy import event

    import history_db

    server = history_db.start_postgres()
    try:
        url = server.url(server.create_database())
        store = Store.open(url, timeout=5)
        event.listen(
            store._engine,
            "before_cursor_execute",
            lambda conn, cur, stmt, *a: server.kill() if stmt.startswith("INSERT INTO episode") else None,
        )
        with pytest.raises(StoreError) as err:
            record(store, [1, 2, 3], T0)
        store.close()
        assert str(err.value).startswith(f"cannot store the scan in postgresql://kubefort:***@127.0.0.1:{server.port}/")
        assert "s3cret" not in str(err.value)
        server.start_again()
        assert_nothing_stored(url)
    finally:
        server.stop()


def test_password_never_shown(postgres):  # noqa: F811
    url = f"postgresql://kubefort:wrong-pw@127.0.0.1:{postgres.port}/postgres"
    with pytest.raises(StoreError) as err:
        Store.open(url)
    assert "wrong-pw" not in str(err.value)
    assert str(err.value).startswith(
        f"cannot open the store postgresql://kubefort:***@127.0.0.1:{postgres.port}/postgres: "
    )
    assert "password authentication failed" in str(err.value)
    with Store.open(postgres.url()) as s:
        assert "s3cret" not in s.url and "s3cret" not in repr(s) and s.url.endswith("/postgres")


def test_unreachable_postgres(tmp_path):
    with pytest.raises(StoreError) as err:
        Store.open("postgresql://u:pw-secret@127.0.0.1:1/db", timeout=2)
    assert str(err.value).startswith("cannot open the store postgresql://u:***@127.0.0.1:1/db: ")
    assert "pw-secret" not in str(err.value)


def test_the_bench_populate_helper(store):
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_history import populate

    uids = populate(store, 12, 40, churn=5, days=1, end=T0)
    scans = store.scans(target="cluster:bench")
    assert [s.uid for s in scans] == uids
    assert [s.complete for s in scans].count(False) == 1  # the 10th
    assert len(store.findings(target="cluster:bench", state="open")) == 40
    assert len(store.scan_findings(uids[-1])) == 40
