"""Rendering Helm charts and Kustomize directories with the real tools.

helm and kustomize are found through KUBEFORT_HELM / KUBEFORT_KUSTOMIZE, then
$KUBEFORT_TOOLS_DIR/bin (default ~/.cache/kubefort/tools/bin, filled by
tools/install-test-tools.sh), then PATH. Tests that need a tool skip when it is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import tool_missing
from kubefort.cli import cli
from kubefort.engine import Engine, EngineSettings
from kubefort.loaders.manifests import InputSpec, LoadedInput, load
from kubefort.loaders.origin import OriginFiles, match_document, read_resource_file
from kubefort.loaders.render import (
    RenderResult,
    is_helm_chart,
    is_kustomization,
    render_helm,
    render_kustomize,
    split_helm_sources,
    tools_bin_dir,
)
from kubefort.model import Location, Source, Status, fingerprint
from kubefort.registry import REGISTRY

INSTALL_HINT = "run tools/install-test-tools.sh to install it"


def _tools_bin() -> Path:
    base = os.environ.get("KUBEFORT_TOOLS_DIR") or str(Path.home() / ".cache" / "kubefort" / "tools")
    return Path(base) / "bin"


def _locate(name: str, env_var: str) -> str | None:
    explicit = os.environ.get(env_var)
    if explicit:
        found = explicit if os.sep in explicit else shutil.which(explicit)
        return found if found and os.access(found, os.X_OK) else None
    cached = _tools_bin() / name
    if cached.is_file() and os.access(cached, os.X_OK):
        return str(cached)
    return shutil.which(name)


HELM = _locate("helm", "KUBEFORT_HELM")
KUSTOMIZE = _locate("kustomize", "KUBEFORT_KUSTOMIZE")


@pytest.fixture
def helm(monkeypatch: pytest.MonkeyPatch) -> str:
    if HELM is None:
        tool_missing(f"real helm binary not found (KUBEFORT_HELM, {_tools_bin()}, PATH); {INSTALL_HINT}")
    monkeypatch.setenv("KUBEFORT_HELM", HELM)
    return HELM


@pytest.fixture
def kustomize(monkeypatch: pytest.MonkeyPatch) -> str:
    if KUSTOMIZE is None:
        tool_missing(f"real kustomize binary not found (KUBEFORT_KUSTOMIZE, {_tools_bin()}, PATH); {INSTALL_HINT}")
    monkeypatch.setenv("KUBEFORT_KUSTOMIZE", KUSTOMIZE)
    return KUSTOMIZE


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def fake_tool(path: Path, body: str) -> str:
    """A stand-in executable, used only where a real tool cannot misbehave on demand."""
    write(path, f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


def make_chart(root: Path, name: str = "demo") -> Path:
    chart = root / name
    write(
        chart / "Chart.yaml",
        f"""
        apiVersion: v2
        name: {name}
        version: 0.1.0
        """,
    )
    write(
        chart / "values.yaml",
        """
        image: nginx:1.25
        replicas: 1
        """,
    )
    write(
        chart / "templates" / "deployment.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}-web
          namespace: {{ .Release.Namespace }}
        spec:
          replicas: {{ .Values.replicas }}
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: {{ .Values.image | quote }}
        """,
    )
    write(
        chart / "templates" / "service.yaml",
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: {{ .Release.Name }}-svc
          namespace: {{ .Release.Namespace }}
        spec:
          selector: {app: web}
          ports:
            - port: 80
        """,
    )
    write(chart / "templates" / "NOTES.txt", "installed {{ .Release.Name }}\n")
    return chart


def docs_by_source(result: RenderResult) -> dict[str, str]:
    assert result.ok, result.error
    return dict(split_helm_sources(result.text))


# ------------------------------------------------------------------------------------------
# detection


def test_detection(tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    assert is_helm_chart(chart)
    assert not is_helm_chart(tmp_path)
    assert not is_helm_chart(chart / "Chart.yaml")
    assert not is_kustomization(chart)
    for i, name in enumerate(("kustomization.yaml", "kustomization.yml", "Kustomization")):
        d = tmp_path / f"k{i}"
        write(d / name, "resources: []\n")
        assert is_kustomization(d)
        assert not is_helm_chart(d)


# ------------------------------------------------------------------------------------------
# helm


def test_helm_renders_two_templates_with_sources(helm: str, tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    r = render_helm(chart)
    assert r.ok, r.error
    assert r.error == ""
    assert r.tool == "helm"
    assert r.command[0] == helm
    assert r.command[1:4] == ["template", "kubefort", str(chart)]
    pairs = split_helm_sources(r.text)
    # helm sorts by kind: the Service is installed before the Deployment
    assert [src for src, _ in pairs] == ["demo/templates/service.yaml", "demo/templates/deployment.yaml"]
    docs = dict(pairs)
    assert "kind: Service" in docs["demo/templates/service.yaml"]
    assert "name: kubefort-svc" in docs["demo/templates/service.yaml"]
    deploy = docs["demo/templates/deployment.yaml"]
    assert "kind: Deployment" in deploy and "name: kubefort-web" in deploy
    assert 'image: "nginx:1.25"' in deploy and "replicas: 1" in deploy
    assert "# Source:" not in deploy
    assert "installed" not in r.text  # NOTES.txt is not a manifest


def test_helm_release_name(helm: str, tmp_path: Path) -> None:
    docs = docs_by_source(render_helm(make_chart(tmp_path), release="prod"))
    assert "name: prod-svc" in docs["demo/templates/service.yaml"]


def test_helm_set_and_values_files(helm: str, tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    vfile = write(tmp_path / "override.yaml", "image: registry.local/web:2.0\nreplicas: 3\n")
    r = render_helm(chart, values=[str(vfile)])
    deploy = docs_by_source(r)["demo/templates/deployment.yaml"]
    assert 'image: "registry.local/web:2.0"' in deploy and "replicas: 3" in deploy
    assert f"--values={vfile}" in r.command

    # --set wins over -f, later -f wins over earlier
    vfile2 = write(tmp_path / "second.yaml", "replicas: 5\n")
    r = render_helm(chart, values=[str(vfile), str(vfile2)], set_values=["image=busybox:latest"])
    deploy = docs_by_source(r)["demo/templates/deployment.yaml"]
    assert 'image: "busybox:latest"' in deploy and "replicas: 5" in deploy
    assert "--set=image=busybox:latest" in r.command


def test_helm_namespace(helm: str, tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    docs = docs_by_source(render_helm(chart))
    assert "namespace: default" in docs["demo/templates/service.yaml"]
    r = render_helm(chart, namespace="payments")
    assert "--namespace=payments" in r.command
    for doc in docs_by_source(r).values():
        assert "namespace: payments" in doc


def test_helm_broken_template(helm: str, tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    write(
        chart / "templates" / "broken.yaml",
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: {{ .Values.name | nosuchfunction }}
        """,
    )
    r = render_helm(chart)
    assert not r.ok
    assert r.text == ""
    assert r.tool == "helm"
    assert "broken.yaml" in r.error
    assert "exit code 1" in r.error
    assert "nosuchfunction" in r.error


def test_helm_template_yaml_error(helm: str, tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    write(chart / "templates" / "badyaml.yaml", "kind: ConfigMap\nmetadata: [unclosed\n")
    r = render_helm(chart)
    assert not r.ok and "badyaml.yaml" in r.error


def test_helm_missing_dependency_is_render_failure(helm: str, tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    with (chart / "Chart.yaml").open("a") as fh:
        fh.write(
            textwrap.dedent("""
            dependencies:
              - name: redis
                version: 1.2.3
                repository: https://charts.example.invalid
            """)
        )
    r = render_helm(chart, timeout=60)
    assert not r.ok
    assert "redis" in r.error or "dependenc" in r.error.lower()


def test_helm_vendored_subchart(helm: str, tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    make_chart(chart / "charts", name="sub")
    sources = [src for src, _ in split_helm_sources(render_helm(chart).text)]
    assert "demo/charts/sub/templates/service.yaml" in sources
    assert "demo/templates/service.yaml" in sources


def test_helm_chart_missing(tmp_path: Path) -> None:
    r = render_helm(tmp_path / "nope")
    assert not r.ok and "does not exist" in r.error


def test_helm_remote_values_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "ran"
    monkeypatch.setenv("KUBEFORT_HELM", fake_tool(tmp_path / "helm", f"touch {marker}"))
    r = render_helm(make_chart(tmp_path), values=["https://example.invalid/values.yaml"])
    assert not r.ok and "offline-first" in r.error
    assert not marker.exists()


def test_helm_binary_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEFORT_HELM", str(tmp_path / "no" / "such" / "helm"))
    r = render_helm(make_chart(tmp_path))
    assert not r.ok
    assert "not found" in r.error and "KUBEFORT_HELM" in r.error
    assert r.text == "" and r.tool == "helm"


def test_helm_not_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBEFORT_HELM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("KUBEFORT_TOOLS_DIR", str(tmp_path / "no-tools"))  # nor in the tools cache
    r = render_helm(make_chart(tmp_path))
    assert not r.ok
    assert r.error == (
        "helm not found: set KUBEFORT_HELM=/path/to/helm, put helm on PATH, or build it with `make tools` "
        f"(into {tmp_path / 'no-tools' / 'bin'}; KUBEFORT_TOOLS_DIR moves it)"
    )


def test_helm_binary_not_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notexec = write(tmp_path / "helm", "not a program\n")
    monkeypatch.setenv("KUBEFORT_HELM", str(notexec))
    r = render_helm(make_chart(tmp_path))
    assert not r.ok and "not found" in r.error


def test_helm_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the child 'sleep' keeps the output pipe open: the whole process group must be killed
    monkeypatch.setenv("KUBEFORT_HELM", fake_tool(tmp_path / "helm", "sleep 60; echo late"))
    start = time.monotonic()
    r = render_helm(make_chart(tmp_path), timeout=0.5)
    elapsed = time.monotonic() - start
    assert not r.ok
    assert "timed out after 0.5s" in r.error and "helm template" in r.error
    assert r.text == ""
    assert elapsed < 10


def test_helm_undecodable_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEFORT_HELM", fake_tool(tmp_path / "helm", r"printf 'kind: \377\376\n'"))
    r = render_helm(make_chart(tmp_path))
    assert not r.ok and "not UTF-8" in r.error


def test_helm_killed_by_signal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEFORT_HELM", fake_tool(tmp_path / "helm", "kill -9 $$"))
    r = render_helm(make_chart(tmp_path))
    assert not r.ok and "signal 9" in r.error


def test_helm_no_shell_and_odd_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "argv"
    monkeypatch.setenv(
        "KUBEFORT_HELM",
        fake_tool(tmp_path / "helm", f'for a in "$@"; do printf "%s\\n" "$a"; done > {out}'),
    )
    chart = make_chart(tmp_path, name="-dash")
    monkeypatch.chdir(tmp_path)
    r = render_helm(Path("-dash"), set_values=["x=$(touch pwned); y"], values=["-v.yaml"])
    assert r.ok, r.error
    argv = out.read_text().splitlines()
    assert argv == ["template", "kubefort", "./-dash", "--values=-v.yaml", "--set=x=$(touch pwned); y"]
    assert not (tmp_path / "pwned").exists()
    assert chart.exists()


# ------------------------------------------------------------------------------------------
# split_helm_sources


def test_split_helm_sources_edge_cases() -> None:
    text = (
        "---\n"
        "# Source: c/templates/a.yaml\n"
        "a: 1\n"
        "---\n"
        "---\n"
        "b: 2\n"
        "--- # comment\n"
        "# Source: c/templates/hooks/h.yaml\n"
        "# a comment kept\n"
        "h: 3\n"
        "...\n"
        "--- {inline: 4}\n"
        "---\r\n"
        "# Source: c/templates/crlf.yaml\r\n"
        "c: 5\r\n"
    )
    assert split_helm_sources(text) == [
        ("c/templates/a.yaml", "a: 1\n"),
        (None, "b: 2\n"),
        ("c/templates/hooks/h.yaml", "# a comment kept\nh: 3\n"),
        (None, "{inline: 4}\n"),
        ("c/templates/crlf.yaml", "c: 5\n"),
    ]
    assert split_helm_sources("") == []
    assert split_helm_sources("x: 1\n") == [(None, "x: 1\n")]
    # '----' and '---x' are not document markers
    assert split_helm_sources("a: |\n  ----\n  ---x\n") == [(None, "a: |\n  ----\n  ---x\n")]


# ------------------------------------------------------------------------------------------
# kustomize


def make_base(root: Path) -> Path:
    base = root / "base"
    write(
        base / "kustomization.yaml",
        """
        resources:
          - deployment.yaml
        """,
    )
    write(
        base / "deployment.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: 1
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: nginx:1.25
        """,
    )
    return base


def test_kustomize_with_patch(kustomize: str, tmp_path: Path) -> None:
    make_base(tmp_path)
    overlay = tmp_path / "overlay"
    write(
        overlay / "kustomization.yaml",
        """
        namespace: prod
        namePrefix: prod-
        resources:
        - ../base
        patches:
          - path: privileged.yaml
        """,
    )
    write(
        overlay / "privileged.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: 4
          template:
            spec:
              containers:
                - name: web
                  securityContext:
                    privileged: true
        """,
    )
    r = render_kustomize(overlay)
    assert r.ok, r.error
    assert r.tool == "kustomize"
    assert r.command == [kustomize, "build", str(overlay)]
    assert "name: prod-web" in r.text and "namespace: prod" in r.text
    assert "replicas: 4" in r.text and "privileged: true" in r.text
    assert "image: nginx:1.25" in r.text


def test_kustomize_build_error(kustomize: str, tmp_path: Path) -> None:
    d = tmp_path / "k"
    write(d / "kustomization.yaml", "resources:\n  - missing.yaml\n")
    r = render_kustomize(d)
    assert not r.ok and r.text == ""
    assert "kustomize build" in r.error and "exit code" in r.error
    assert "missing.yaml" in r.error


@pytest.mark.parametrize(
    "entry",
    [
        "github.com/kubernetes-sigs/kustomize/examples/multibases?ref=v1.0.6",
        "https://github.com/org/repo//deploy?ref=main",
        "git@github.com:org/repo.git",
        "'https://raw.example.org/manifests/app.yaml'",
        "ssh://git@example.org/org/repo.git",
        "git::https://example.org/org/repo",
        "example.org/team/repo/path",
    ],
)
def test_kustomize_remote_base_refused(entry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "ran"
    monkeypatch.setenv("KUBEFORT_KUSTOMIZE", fake_tool(tmp_path / "kustomize", f"touch {marker}"))
    d = tmp_path / "k"
    write(
        d / "kustomization.yaml",
        f"""
        # a comment: https://example.org/not-an-entry
        namespace: x
        resources:
          - local.yaml   # a local file
          - {entry}
        """,
    )
    write(d / "local.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    r = render_kustomize(d)
    assert not r.ok
    assert r.error == (
        f"remote kustomize base {entry.strip(chr(39))} needs the network; kubefort is offline-first "
        "(render it yourself and scan the output)"
    )
    assert not marker.exists()


@pytest.mark.parametrize(
    "kfile",
    [
        "bases:\n- github.com/org/repo/base?ref=v1\n",
        "components: [../comp, 'https://example.org/c']\n",
        "resources:\n  - path: https://example.org/x\n",
    ],
)
def test_kustomize_remote_other_fields(kfile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEFORT_KUSTOMIZE", fake_tool(tmp_path / "kustomize", "exit 0"))
    d = tmp_path / "k"
    write(d / "kustomization.yaml", kfile)
    r = render_kustomize(d)
    assert not r.ok and r.error.startswith("remote kustomize base ")


def test_kustomize_remote_in_local_base_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "ran"
    monkeypatch.setenv("KUBEFORT_KUSTOMIZE", fake_tool(tmp_path / "kustomize", f"touch {marker}"))
    write(tmp_path / "base" / "kustomization.yaml", "resources:\n- github.com/org/repo?ref=v2\n")
    write(tmp_path / "overlay" / "kustomization.yml", "resources:\n- ../base\n")
    r = render_kustomize(tmp_path / "overlay")
    assert not r.ok and "github.com/org/repo?ref=v2" in r.error
    assert not marker.exists()


def test_kustomize_url_outside_reference_fields_ok(kustomize: str, tmp_path: Path) -> None:
    make_base(tmp_path)
    d = tmp_path / "overlay"
    write(
        d / "kustomization.yaml",
        """
        resources:
          - ../base
        commonAnnotations:
          docs: https://example.org/runbook
        """,
    )
    r = render_kustomize(d)
    assert r.ok, r.error
    assert "docs: https://example.org/runbook" in r.text


def test_kustomize_not_a_kustomization(tmp_path: Path) -> None:
    r = render_kustomize(tmp_path)
    assert not r.ok and "not a kustomization" in r.error


def test_kustomize_binary_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEFORT_KUSTOMIZE", str(tmp_path / "missing" / "kustomize"))
    make_base(tmp_path)
    r = render_kustomize(tmp_path / "base")
    assert not r.ok and "not found" in r.error and r.tool == "kustomize"


def test_kustomize_nothing_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBEFORT_KUSTOMIZE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("KUBEFORT_TOOLS_DIR", str(tmp_path / "no-tools"))  # nor in the tools cache
    make_base(tmp_path)
    r = render_kustomize(tmp_path / "base")
    assert not r.ok
    assert r.error == (
        "kustomize not found: set KUBEFORT_KUSTOMIZE=/path/to/kustomize, put kustomize (or kubectl) on PATH, "
        f"or build it with `make tools` (into {tmp_path / 'no-tools' / 'bin'}; KUBEFORT_TOOLS_DIR moves it)"
    )


def test_kubectl_kustomize_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not on PATH")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "kubectl").symlink_to(kubectl)
    monkeypatch.delenv("KUBEFORT_KUSTOMIZE", raising=False)
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setenv("KUBEFORT_TOOLS_DIR", str(tmp_path / "no-tools"))  # no kustomize in the tools cache
    base = make_base(tmp_path)
    r = render_kustomize(base)
    assert r.tool == "kubectl kustomize"
    assert r.command == [str(bindir / "kubectl"), "kustomize", str(base)]
    assert r.ok, r.error
    assert "name: web" in r.text


def test_kustomize_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBEFORT_KUSTOMIZE", fake_tool(tmp_path / "kustomize", "sleep 60"))
    make_base(tmp_path)
    start = time.monotonic()
    r = render_kustomize(tmp_path / "base", timeout=0.3)
    assert not r.ok and "timed out" in r.error and "kustomize build" in r.error
    assert time.monotonic() - start < 10


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX only")
def test_result_is_frozen() -> None:
    r = RenderResult(True, "", "", "helm", [])
    with pytest.raises(AttributeError):
        r.ok = False  # type: ignore[misc]


# ------------------------------------------------------------------------------------------
# finding the tools: $KUBEFORT_HELM / $KUBEFORT_KUSTOMIZE, then PATH, then the tools cache
# (`make tools`), then (kustomize only) kubectl on PATH

LOOKUP_ORDER = ("env", "path", "cache", "kubectl")


def _fake_renderer(d: Path, name: str, marker: str) -> str:
    """A stand-in that prints one ConfigMap named after where it was found."""
    doc = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {marker}\n"
    return fake_tool(d / name, f"printf '%s' '{doc}'")  # a shell builtin: PATH may hold nothing else


@settings(max_examples=40, deadline=None)
@given(
    tool=st.sampled_from(("helm", "kustomize")),
    present=st.sets(st.sampled_from(LOOKUP_ORDER)),
)
def test_tool_lookup_order(tool: str, present: set[str]) -> None:
    env_var = "KUBEFORT_HELM" if tool == "helm" else "KUBEFORT_KUSTOMIZE"
    if tool == "helm":
        present = present - {"kubectl"}  # kubectl renders kustomizations only
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        root = Path(tmp)
        path_dirs = []
        for where in present:
            if where == "env":
                mp.setenv(env_var, _fake_renderer(root / "env", tool, "env"))
            elif where == "path":
                _fake_renderer(root / "path", tool, "path")
                path_dirs.append(str(root / "path"))
            elif where == "cache":
                _fake_renderer(root / "cache" / "bin", tool, "cache")
            else:
                _fake_renderer(root / "kubectl-dir", "kubectl", "kubectl")
                path_dirs.append(str(root / "kubectl-dir"))
        if "env" not in present:
            mp.delenv(env_var, raising=False)
        mp.setenv("PATH", os.pathsep.join(path_dirs) or str(root / "empty"))
        mp.setenv("KUBEFORT_TOOLS_DIR", str(root / "cache"))
        target = make_chart(root) if tool == "helm" else make_base(root)
        r = render_helm(target) if tool == "helm" else render_kustomize(target)
        winner = next((w for w in LOOKUP_ORDER if w in present), None)
        if winner is None:
            assert not r.ok
            assert r.error.startswith(f"{tool} not found: set {env_var}=/path/to/{tool}, put {tool}")
            assert f"`make tools` (into {root / 'cache' / 'bin'}; KUBEFORT_TOOLS_DIR moves it)" in r.error
        else:
            assert r.ok, r.error
            assert f"name: {winner}\n" in r.text
            assert r.tool == ("kubectl kustomize" if winner == "kubectl" else tool)


def test_tools_cache_defaults_to_the_install_scripts_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBEFORT_TOOLS_DIR", raising=False)
    assert tools_bin_dir() == Path.home() / ".cache" / "kubefort" / "tools" / "bin"
    tools = Path(__file__).resolve().parents[1] / "tools"
    lib = (tools / "go-install-lib.sh").read_text()  # what the install scripts source
    assert 'TOOLS_DIR="${KUBEFORT_TOOLS_DIR:-$HOME/.cache/kubefort/tools}"' in lib
    assert 'BIN_DIR="$TOOLS_DIR/bin"' in lib
    for script in ("install-test-tools.sh", "install-test-registry.sh"):
        assert '. "$(dirname "$0")/go-install-lib.sh"' in (tools / script).read_text(), script


def test_scan_says_where_to_put_a_missing_renderer(tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    env = {"KUBEFORT_HELM": None, "PATH": str(tmp_path / "empty"), "KUBEFORT_TOOLS_DIR": str(tmp_path / "none")}
    out = CliRunner().invoke(cli, ["scan", str(chart), "-o", "json"], env=env)
    assert out.exit_code == 3, out.output
    (res,) = [r for r in json.loads(out.stdout)["results"] if r["check_id"] == "KF-INPUT-002"]
    assert res["message"] == (
        f"helm could not render {chart}: helm not found: set KUBEFORT_HELM=/path/to/helm, put helm on PATH, "
        f"or build it with `make tools` (into {tmp_path / 'none' / 'bin'}; KUBEFORT_TOOLS_DIR moves it)"
    )


# ------------------------------------------------------------------------------------------
# where findings in rendered output are shown


def test_helm_objects_name_their_template_and_no_line(helm: str, tmp_path: Path) -> None:
    chart = make_chart(tmp_path)
    li = load(InputSpec("helm", str(chart), unit=str(chart)))
    got = sorted((r.id.kind, r.source.file, r.source.line, r.source.template, r.source.unit) for r in li.resources)
    assert got == [
        (
            "Deployment",
            str(chart / "templates" / "deployment.yaml"),
            None,
            "demo/templates/deployment.yaml",
            str(chart),
        ),
        ("Service", str(chart / "templates" / "service.yaml"), None, "demo/templates/service.yaml", str(chart)),
    ]


def test_rendered_parse_errors_give_the_rendered_line_in_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = "---\n# Source: demo/templates/bad.yaml\nkind: ConfigMap\nmetadata: [unclosed\n"
    monkeypatch.setenv("KUBEFORT_HELM", fake_tool(tmp_path / "helm", f"cat <<'EOF'\n{out}EOF"))
    chart = make_chart(tmp_path)
    li = load(InputSpec("helm", str(chart)))
    (p,) = li.problems
    assert p.kind == "parse" and p.file == str(chart / "templates" / "bad.yaml")
    assert p.line is None and p.column is None
    assert "of the helm output)" in p.message and "(line " in p.message


def make_overlay(root: Path, extra_kustomization: str = "") -> Path:
    """base (a Deployment and a Service in one file, a generated ConfigMap) and overlays/prod
    (prefix, namespace, a patch, a file of its own with two ConfigMaps)."""
    write(
        root / "base" / "kustomization.yaml",
        """
        resources:
          - app.yaml
        configMapGenerator:
          - name: cfg
            literals: [a=b]
        """,
    )
    write(
        root / "base" / "app.yaml",
        """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          ports: [{port: 80}]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          annotations: {team: shop}
        spec:
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
                - name: web
                  image: nginx:1.25
                  securityContext:
                    privileged: true
        """,
    )
    overlay = root / "overlays" / "prod"
    write(
        overlay / "kustomization.yaml",
        """
        namespace: prod
        namePrefix: prod-
        resources:
          - ../../base
          - extra.yaml
        patches:
          - path: patch.yaml
        """
        + extra_kustomization,
    )
    write(
        overlay / "patch.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          template:
            spec:
              containers:
                - name: web
                  securityContext:
                    runAsUser: 0
        """,
    )
    write(
        overlay / "extra.yaml",
        """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: one
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: two
        """,
    )
    return overlay


def _places(li: LoadedInput) -> list[tuple[str, str, int | None, int]]:
    return sorted((r.id.name, r.source.file, r.source.line, r.source.doc_index) for r in li.resources)


EXPECTED_PLACES = [
    ("prod-cfg-4h2mbtbbt6", "base/kustomization.yaml", None, 0),  # made by the base's generator
    ("prod-one", "overlays/prod/extra.yaml", 1, 0),
    ("prod-two", "overlays/prod/extra.yaml", 6, 1),
    ("prod-web", "base/app.yaml", 1, 0),  # the Service
    ("prod-web", "base/app.yaml", 8, 1),  # the Deployment
]


def test_kustomize_objects_name_their_resource_file(
    kustomize: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_overlay(tmp_path)
    monkeypatch.chdir(tmp_path)
    li = load(InputSpec("kustomize", "overlays/prod", unit="overlays/prod"))
    assert li.problems == [] and _places(li) == EXPECTED_PLACES
    for r in li.resources:
        assert r.source.rendered_by == "kustomize" and r.source.template == "overlays/prod"
        assert r.source.unit == "overlays/prod"
        # the annotation kubefort asked for is not the user's: removed, other annotations kept
        annotations = r.obj["metadata"].get("annotations")
        assert annotations == ({"team": "shop"} if r.id.kind == "Deployment" else None)


def test_kustomize_findings_have_a_line_only_where_the_file_holds_the_value(
    kustomize: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_overlay(tmp_path)
    monkeypatch.chdir(tmp_path)
    settings_ = EngineSettings(check_ids=("KF-POD-001", "KF-POD-008"))
    engine = Engine(settings_, REGISTRY)
    part = engine.evaluate(load(InputSpec("kustomize", "overlays/prod", unit="overlays/prod"), settings_.load))
    got = sorted(
        (o.check_id, o.location.file, o.location.line, o.location.column)
        for o in part.outcomes
        if o.status is Status.FAILED and o.location
    )
    assert got == [
        ("KF-POD-001", "base/app.yaml", 24, 13),  # privileged: true is written in the base file
        ("KF-POD-008", "base/app.yaml", None, None),  # runAsUser: 0 comes from the overlay's patch
    ]
    # fingerprints name the kustomization built (as before origins were read), so a baseline
    # tells apart the overlays that render the same base file
    o = next(o for o in part.outcomes if o.check_id == "KF-POD-001" and o.status is Status.FAILED)
    assert o.fingerprint == fingerprint("KF-POD-001", o.resource, "web", o.path, "overlays/prod")


def test_kustomize_own_origin_annotations_are_kept_and_used(
    kustomize: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_overlay(tmp_path, "buildMetadata: [originAnnotations]\n")
    monkeypatch.chdir(tmp_path)
    li = load(InputSpec("kustomize", "overlays/prod"))
    assert _places(li) == EXPECTED_PLACES
    (one,) = [r for r in li.resources if r.id.name == "prod-one"]
    assert one.obj["metadata"]["annotations"] == {"config.kubernetes.io/origin": "path: extra.yaml\n"}


def test_kustomize_without_origins_names_the_kustomization(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kustomize that cannot build the wrapper (an old one): the plain build, shown at the kustomization."""
    out = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
    script = f'case "$2" in *kubefort-kustomize-*) echo "unknown field buildMetadata" >&2; exit 1;; esac\ncat <<EOF\n{out}EOF'
    monkeypatch.setenv("KUBEFORT_KUSTOMIZE", fake_tool(tmp_path / "kustomize", script))
    d = make_base(tmp_path)
    r = render_kustomize(d, origins=True)
    assert r.ok and r.origin_root is None and not r.origins_added
    li = load(InputSpec("kustomize", str(d)))
    kfile = str(d / "kustomization.yaml")
    assert [(r.source.file, r.source.line, r.source.doc_index) for r in li.resources] == [
        (kfile, None, 0),
        (kfile, None, 1),
    ]


def test_kustomize_errors_are_the_users_own_and_no_temporary_files_stay(
    kustomize: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    d = tmp_path / "k"
    write(d / "kustomization.yaml", "resources:\n  - missing.yaml\n")
    r = render_kustomize(d, origins=True)
    assert not r.ok and "missing.yaml" in r.error and "kubefort-kustomize-" not in r.error
    assert r.error.startswith(f"kustomize build {d} failed")
    ok = render_kustomize(make_base(tmp_path), origins=True)
    assert ok.ok and ok.origins_added
    assert list((tmp_path / "tmp").iterdir()) == []


# ------------------------------------------------------------------------------------------
# matching a rendered object to its document, over the class of name transformations

KINDS = (
    ("v1", "ConfigMap"),
    ("apps/v1", "Deployment"),
    ("apps/v1beta1", "Deployment"),
    ("example.com/v1", "Deployment"),
)
BASE_NAMES = ("web", "api", "dbs")  # no name contains another, none contains x, y, z or -


@settings(max_examples=200, deadline=None)
@given(
    docs=st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(BASE_NAMES)), min_size=1, max_size=6),
    pick=st.integers(min_value=0),
    prefix=st.sampled_from(("", "x-", "yz-")),
    suffix=st.sampled_from(("", "-z", "-xy")),
    namespace=st.sampled_from((None, "prod")),
)
def test_match_document(
    docs: list[tuple[tuple[str, str], str]], pick: int, prefix: str, suffix: str, namespace: str | None
) -> None:
    file_docs: list[Any] = [{"apiVersion": av, "kind": k, "metadata": {"name": n}} for (av, k), n in docs]
    i = pick % len(file_docs)
    (av, kind), name = docs[i]
    meta = {"name": prefix + name + suffix} | ({"namespace": namespace} if namespace else {})
    rendered = {"apiVersion": av, "kind": kind, "metadata": meta}
    group = av.rpartition("/")[0]
    same = [j for j, ((a, k), n) in enumerate(docs) if k == kind and a.rpartition("/")[0] == group and n == name]
    got = match_document(rendered, file_docs)
    # the document is found exactly when it is the only one of that kind, group and name
    assert got == (i if same == [i] else None)


def test_match_document_never_guesses() -> None:
    web = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
    webapi = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web-api"}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "p-web-api"}}
    assert match_document(svc, [web, webapi]) == 1  # the longest name contained
    assert match_document({**svc, "metadata": {"name": "other"}}, [web, webapi]) is None
    assert match_document({**svc, "kind": "ConfigMap"}, [web, webapi]) is None
    assert match_document({**svc, "metadata": {}}, [web]) is None
    a = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "a"}}
    b = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "b"}}
    assert match_document({**b}, [a, b]) == 1  # the namespace breaks the tie
    assert match_document({**web, "metadata": {"name": "web", "namespace": "c"}}, [a, b]) is None


def test_origin_locate_rules(tmp_path: Path) -> None:
    f = write(tmp_path / "app.yaml", "kind: Pod\nspec:\n  hostNetwork: true\n  dnsPolicy: Default\n  n: 1\n")
    src = Source(str(f), 0, 1, (), "kustomize", "k")
    files = OriginFiles()
    obj = {"kind": "Pod", "spec": {"hostNetwork": True, "dnsPolicy": "ClusterFirst", "n": True, "extra": 1}}
    assert files.locate(src, ("spec", "hostNetwork"), obj) == Location(str(f), 3, 3)
    assert files.locate(src, ("spec", "dnsPolicy"), obj) == Location(str(f))  # changed by kustomize
    assert files.locate(src, ("spec", "n"), obj) == Location(str(f))  # 1 is not true
    assert files.locate(src, ("spec", "extra"), obj) == Location(str(f))  # not in the file
    assert files.locate(src, ("spec",), obj) == Location(str(f))  # the mapping differs
    assert files.locate(src, (), obj) == Location(str(f), 1)  # the object: its document
    unidentified = Source(str(f), 0, None, (), "kustomize", "k")
    assert files.locate(unidentified, ("spec", "hostNetwork"), obj) == Location(str(f))
    gone = Source(str(tmp_path / "gone.yaml"), 0, 1, (), "kustomize", "k")
    assert files.locate(gone, ("spec", "hostNetwork"), obj) == Location(str(tmp_path / "gone.yaml"))


def test_origin_files_are_read_only_when_regular_and_small(tmp_path: Path) -> None:
    small = write(tmp_path / "ok.yaml", "kind: Pod\n")
    assert read_resource_file(str(small), 100) == b"kind: Pod\n"
    assert read_resource_file(str(small), 5) is None  # over the size limit
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # reading it would block forever
    assert read_resource_file(str(fifo), 100) is None
    assert read_resource_file(str(tmp_path), 100) is None
    assert read_resource_file(str(tmp_path / "missing.yaml"), 100) is None
    assert read_resource_file("/dev/zero", 100) is None


def test_a_render_error_is_shown_once_without_helms_own_cli_advice(helm: str, tmp_path: Path) -> None:
    """helm's "Use --debug flag to render out invalid YAML" is advice for helm's command line, not
    kubefort's; the table shows the error once (its KF-INPUT-002 row), not again in the summary."""
    chart = make_chart(tmp_path)
    write(chart / "templates" / "nil.yaml", "{{ .Values.x.y.z }}\n")
    r = render_helm(chart)
    assert not r.ok and "nil pointer" in r.error and "--debug" not in r.error
    res = CliRunner().invoke(cli, ["scan", str(chart), "--no-color"], env={"COLUMNS": "400"})
    assert res.exit_code == 3
    assert "--debug" not in res.output
    assert res.output.count("nil pointer evaluating") == 1, res.output
