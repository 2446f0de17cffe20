"""Shared test helpers: run kubefort in-process on text or files, find ../shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubefort.engine import Engine, EngineSettings
from kubefort.loaders.manifests import InputSpec, LoadOptions, load
from kubefort.model import Outcome
from kubefort.registry import REGISTRY, load_builtin_checks

load_builtin_checks()
# tests must see the vulnerability data shipped in the package, never a copy that `kubefort db
# update` left in the developer's cache (subprocesses inherit this too)
os.environ["XDG_CACHE_HOME"] = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"kubefort-test-cache-{os.getpid()}")
ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_dir() -> Path | None:
    p = Path(os.environ.get("KUBEFORT_SHARED", ROOT.parent / "shared"))
    return p if p.is_dir() else None


def all_check_ids() -> tuple[str, ...]:
    return tuple(m.id for m in REGISTRY)


def scan_file(
    path: Path | str, checks: tuple[str, ...] | None = None, options: dict | None = None, **load_opts: object
) -> list[Outcome]:
    """Load one file and run the checks on it, cross-object (cluster) checks included."""
    ids = tuple(checks) if checks else all_check_ids()
    ids = tuple(sorted(set(ids) | {m.id for m in REGISTRY if m.target == "input"}))
    settings = EngineSettings(check_ids=ids, load=LoadOptions(**load_opts), options=options or {})  # type: ignore[arg-type]
    li = load(InputSpec("file", str(path), os.path.getsize(path)), settings.load)
    engine = Engine(settings, REGISTRY)
    part = engine.evaluate(li)
    return part.outcomes + engine.cross_object(part.collected)


def scan_text(
    tmp_path: Path, text: str | bytes, name: str = "in.yaml", checks: tuple[str, ...] | None = None
) -> list[Outcome]:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return scan_file(p, checks)


@pytest.fixture
def shared() -> Path:
    d = shared_dir()
    if d is None:
        pytest.skip("../shared is not present (a fresh clone has none)")
    return d


def tool_missing(msg: str) -> None:
    """Skip a test whose external tool is absent; in CI (KUBEFORT_REQUIRE_TOOLS=1) fail instead."""
    if os.environ.get("KUBEFORT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"required test tool missing: {msg}")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def apiserver():
    """A real etcd + kube-apiserver on loopback (tests/kubeapi.py), one per test session."""
    import shutil

    import kubeapi

    if not kubeapi.binaries_ready():
        tool_missing(
            f"kube-apiserver and etcd {kubeapi.k8s_version()} are not built: run `bash tools/install-test-cluster.sh` (needs Go)"
        )
    if shutil.which("openssl") is None:
        tool_missing("openssl is needed to make the test cluster's certificates")
    cluster = kubeapi.TestCluster().start()
    yield cluster
    cluster.stop()


# Markers (registered in pyproject.toml, --strict-markers): `cluster` and `tools` follow from the
# fixtures a test uses, so a new test needs no decorator; `slow` is written on the tests.
_CLUSTER_FIXTURES = frozenset({"apiserver", "scan_cluster"})  # a real kube-apiserver + etcd
_TOOLS_FIXTURES = frozenset({"helm", "kustomize"})  # real binaries from tools/install-test-tools.sh


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & _CLUSTER_FIXTURES:
            item.add_marker(pytest.mark.cluster)
        if names & _TOOLS_FIXTURES:
            item.add_marker(pytest.mark.tools)
