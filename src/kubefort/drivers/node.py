"""The node driver: load a node's component configuration (`kubefort node`) and evaluate it.

Findings about a component's setting are placed where that setting came from (a flag in a
static-pod manifest or a systemd unit, a key of the kubelet's config file), not at the
synthetic NodeComponent object that carries the effective settings.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from kubefort.config import Config
from kubefort.engine import Engine, EngineSettings, Partial
from kubefort.kube.cis import manual_controls
from kubefort.loaders.node import NodeLoad, load_node
from kubefort.model import ScanResult, Severity, Status
from kubefort.registry import Registry


def node_name(root: str) -> str | None:
    if os.environ.get("NODE_NAME"):
        return os.environ["NODE_NAME"]
    try:
        name = Path(root, "etc/hostname").read_text(encoding="utf-8").strip()
        if name:
            return name
    except OSError:
        pass
    return socket.gethostname() if os.path.abspath(root) == "/" else None


def scan_node(
    root: str,
    check_ids: tuple[str, ...],
    registry: Registry,
    *,
    config: Config | None = None,
    baseline: set[str] | None = None,
    severity: dict[str, Severity] | None = None,
    options: dict[str, Any] | None = None,
    proc: str | None = None,
) -> tuple[ScanResult, NodeLoad]:
    """Load the node at `root`, run `check_ids` through the engine, place findings where the settings came from."""
    t0 = time.perf_counter()
    loaded = load_node(root, proc)
    engine = Engine(EngineSettings(check_ids=check_ids, severity=severity or {}, options=options or {}), registry)
    part = Partial()
    for li in loaded.inputs:
        p = engine.evaluate(li)
        for o in p.outcomes:
            if o.status is not Status.PASSED and o.resource is not None and o.resource.kind == "NodeComponent":
                where = loaded.relocate(o.resource, o.source.file if o.source else None, o.path)
                if where is not None:
                    o.location = where
        part.merge(p)
    result = engine.finish(
        part,
        config=config,
        baseline=baseline,
        started=t0,
        warnings=loaded.warnings,
        extras={"node": {"name": node_name(root), **loaded.info, "cis_manual": manual_controls(registry)}},
    )
    return result, loaded
