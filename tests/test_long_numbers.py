"""Digit strings longer than Python's int() converts (4,300 digits; KF-CLU-001's fuzz test found a
10,000-digit version) are refused as the field's own error, never an internal error: every place
that reads a number out of text bounds its digits first."""

from __future__ import annotations

import pytest

from kubefort.config import ConfigError, parse_path
from kubefort.kube.netpol.calico_parse import parse_calico_policy
from kubefort.kube.netpol.model import PolicyError
from kubefort.kube.pss.model import parse_version as pss_version
from kubefort.model import Resource, ResourceId, Source
from kubefort.vulndb import parse_version

LONG = "9" * 10_000


def test_versions() -> None:
    assert parse_version(f"v1.{LONG}.0") is None
    assert parse_version(f"{LONG}.28") is None
    assert parse_version("v1.28.3-eks-4f4795d") is not None
    with pytest.raises(ValueError, match="invalid PSS policy version"):
        pss_version(f"v1.{LONG}")


def test_config_paths() -> None:
    with pytest.raises(ConfigError, match="bad path"):
        parse_path(f"spec.containers[{LONG}]")
    assert parse_path("spec.containers[2].image") == ("spec", "containers", 2, "image")


@pytest.mark.parametrize("port", [LONG, f"{LONG}:80", f"80:{LONG}"])
def test_calico_ports(port: str) -> None:
    obj = {
        "apiVersion": "projectcalico.org/v3",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"ingress": [{"action": "Allow", "protocol": "TCP", "destination": {"ports": [port]}}]},
    }
    res = Resource(ResourceId("projectcalico.org/v3", "NetworkPolicy", "shop", "p"), obj, Source("p.yaml"))
    with pytest.raises(PolicyError):
        parse_calico_policy(res)
