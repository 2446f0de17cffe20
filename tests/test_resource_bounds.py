"""Configurable bounds on requests and limits (KF-RES-008..012) and the quantity grammar they use."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import scan_text
from kubefort.checks.resource_bounds import MaxCPUOptions, RatioOptions
from kubefort.config import ConfigError, load_config, make_options
from kubefort.kube.quantity import QuantityError, format_quantity, parse_quantity
from kubefort.registry import REGISTRY


# ---------------------------------------------------------------------------------------------
# quantities, as apimachinery parses them
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("1.5", Decimal("1.5")),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("1Ki", Decimal(1024)),
        ("1.5Gi", Decimal(1610612736)),
        ("1k", Decimal(1000)),
        ("1M", Decimal(10**6)),
        ("1E", Decimal(10**18)),  # exa, not an exponent
        ("1e3", Decimal(1000)),
        ("1E-3", Decimal("0.001")),
        ("100n", Decimal("1E-7")),
        ("-1", Decimal(-1)),
        ("+1", Decimal(1)),
        (" 2 ", Decimal(2)),  # Quantity.UnmarshalJSON trims spaces
        (2, Decimal(2)),
        (0.25, Decimal("0.25")),
        (None, Decimal(0)),  # Quantity decodes JSON null as zero
    ],
)
def test_quantities(text: object, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "m", "Gi", "1K", "1mi", "1m5", "1.2.3", "1E3Mi", "1e1.5", "one", ".", "+"])
def test_not_quantities(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


@pytest.mark.parametrize("value", [True, [], {}, float("nan"), float("inf")])
def test_values_that_are_no_quantity(value: object) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(value)


@given(n=st.integers(min_value=0, max_value=10**12), suffix=st.sampled_from(["", "m", "k", "M", "G", "Ki", "Mi", "Gi"]))
def test_suffixes_scale_exactly(n: int, suffix: str) -> None:
    scale = {"": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    assert parse_quantity(f"{n}{suffix}") == n * scale[suffix]


def test_formatting_for_messages() -> None:
    assert format_quantity(parse_quantity("250m"), "cpu") == "250m"
    assert format_quantity(parse_quantity("1500m"), "cpu") == "1.5"
    assert format_quantity(parse_quantity("4096Mi"), "memory") == "4Gi"
    assert format_quantity(parse_quantity("5G"), "memory") == "5000000000"


# ---------------------------------------------------------------------------------------------
# options: validated when the configuration is read
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("check_id", "raw"),
    [
        ("KF-RES-008", {"max_cpu": "lots"}),
        ("KF-RES-008", {"max_cpu": "0"}),
        ("KF-RES-008", {"max_cpu": "-2"}),
        ("KF-RES-008", {"max_cpu": 2}),  # a quantity option is a string: quote numbers in YAML
        ("KF-RES-009", {"max_memory": "8GB"}),
        ("KF-RES-010", {"min_cpu": "1E3Mi"}),
        ("KF-RES-011", {"min_memory": ""} | {"unknown": 1}),
        ("KF-RES-012", {"max_cpu_ratio": 0.5}),
        ("KF-RES-012", {"max_memory_ratio": -1}),
        ("KF-RES-012", {"max_memory_ratio": "2"}),
    ],
)
def test_invalid_bounds_are_configuration_errors(check_id: str, raw: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        make_options(REGISTRY.get(check_id), raw, ".kubefort.yaml")


def test_valid_bounds() -> None:
    assert make_options(REGISTRY.get("KF-RES-008"), {"max_cpu": "3500m"}, "x") == MaxCPUOptions("3500m")
    assert make_options(REGISTRY.get("KF-RES-012"), {"max_cpu_ratio": 4}, "x") == RatioOptions(4.0, 0.0)
    assert make_options(REGISTRY.get("KF-RES-012"), {"max_memory_ratio": 1}, "x") == RatioOptions(0.0, 1.0)


def test_bounds_from_kubefort_yaml(tmp_path: Path) -> None:
    cfg = tmp_path / ".kubefort.yaml"
    cfg.write_text('options:\n  KF-RES-008: {max_cpu: "2"}\n  KF-RES-009: {max_memory: 1Gi}\n')
    config = load_config(cfg, REGISTRY)
    assert config.options["KF-RES-008"] == MaxCPUOptions("2")
    cfg.write_text("options:\n  KF-RES-008: {max_cpu: two}\n")
    with pytest.raises(ConfigError, match="max_cpu: 'two' is not a positive quantity"):
        load_config(cfg, REGISTRY)


POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    image: nginx:1.27.3
    resources:
      requests: {cpu: 10m, memory: 16Mi}
      limits: {cpu: "8", memory: 64Gi}
"""


def test_bounds_are_off_until_configured(tmp_path: Path) -> None:
    """Without options the checks give no outcome at all (documented under 'Not applicable when')."""
    ids = ("KF-RES-008", "KF-RES-009", "KF-RES-010", "KF-RES-011", "KF-RES-012")
    assert [o for o in scan_text(tmp_path, POD, checks=ids) if o.check_id in ids] == []
