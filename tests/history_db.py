"""The databases the history tests run against: SQLite, and a REAL PostgreSQL server.

`PostgresServer` initialises a throw-away cluster with `initdb` as an unprivileged user (the
`postgres` system user when the tests run as root, as here and in CI), on a free loopback port,
with its unix socket in the cluster's temporary directory, and removes it afterwards. The
binaries come from PATH or Debian's /usr/lib/postgresql/N/bin (tools/install-test-postgres.sh
installs the package). When no server can be started the PostgreSQL tests skip, with the reason,
unless KUBEFORT_REQUIRE_TOOLS=1 (CI), where they fail.

Fixtures (import them into a test module: `from history_db import store_url, postgres  # noqa: F401`):
* `postgres` (session): the server, or a skip;
* `store_url` (per test, parametrised `sqlite` / `postgresql`): the URL of an empty store.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import tool_missing

PASSWORD = "s3cret-pw"
USER = "kubefort"
_db_numbers = itertools.count()


def pg_bindir() -> str | None:
    """The directory holding initdb/pg_ctl/postgres, or None."""
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(found)
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3]), reverse=True)
    return os.path.dirname(dirs[0]) if dirs else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One throw-away PostgreSQL cluster (start, url, create_database, kill, stop)."""

    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="kubefort-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self.runas = "postgres" if os.geteuid() == 0 else None

    def _cmd(self, *argv: str) -> list[str]:
        exe = [os.path.join(self.bindir, argv[0]), *argv[1:]]
        return ["runuser", "-u", self.runas, "--", *exe] if self.runas else exe

    def _run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._cmd(*argv), capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def start(self) -> PostgresServer:
        if self.runas:
            try:
                pw = pwd.getpwnam(self.runas)
            except KeyError:
                raise RuntimeError("running as root and there is no `postgres` user to run the server as") from None
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.runas:
            os.chown(pwfile, pwd.getpwnam(self.runas).pw_uid, -1)
        p = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            USER,
            f"--pwfile={pwfile}",
            "-A",
            "scram-sha-256",
            "--no-sync",
            "-E",
            "UTF8",
        )
        if p.returncode != 0:
            raise RuntimeError(f"initdb failed: {p.stderr.strip()[-500:]}")
        return self.start_again()

    def start_again(self) -> PostgresServer:
        """Start the initialised cluster (again, after `kill`)."""
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        p = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "60", "start")
        if p.returncode != 0:
            log = self.log.read_text(errors="replace")[-800:] if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {p.stderr.strip()[-300:]} {log}")
        return self

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{db}"

    def admin(self) -> object:
        import psycopg

        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={USER} password={PASSWORD} dbname=postgres", autocommit=True
        )

    def create_database(self) -> str:
        name = f"kf_test_{os.getpid()}_{next(_db_numbers)}"
        with self.admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:  # type: ignore[attr-defined]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def kill(self) -> None:
        """The server goes away at once (SIGKILL to the postmaster and so its backends)."""
        with contextlib.suppress(ProcessLookupError, FileNotFoundError):
            os.kill(self.postmaster_pid(), signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    break
            time.sleep(0.05)
        # the dead postmaster may linger as a zombie (no init reaps it in a container), which a
        # restart would take for a running server: its backends end on their own, the lock file goes
        time.sleep(1.0)
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        for lock in self.dir.glob(".s.PGSQL.*"):
            lock.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.data.exists() and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """A started server, or a skip (a failure with KUBEFORT_REQUIRE_TOOLS=1) saying why not."""
    bindir = pg_bindir()
    if bindir is None:
        tool_missing("PostgreSQL is not installed (no initdb): run `bash tools/install-test-postgres.sh`")
    assert bindir is not None
    server = PostgresServer(bindir)
    try:
        return server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        tool_missing(f"cannot start a test PostgreSQL server: {exc}")
        raise


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store on each database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'history.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = server.create_database()
    yield server.url(name)
    server.drop_database(name)
