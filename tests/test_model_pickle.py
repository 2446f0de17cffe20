"""Model objects cross process boundaries (scan workers, cross-object workers) by pickle. The
ones that define `__reduce__` for speed must keep every field: a field added later and
forgotten there would silently come back as its default."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from kubefort.model import Location, Resource, ResourceId, Source, Suppression

SAMPLES = [
    Source("a.yaml", 2, 7, ("items", 3), "helm", "templates/x.yaml"),
    ResourceId("apps/v1", "Deployment", "ns", "web"),
    Resource(ResourceId("v1", "Pod", None, "p"), {"spec": {"containers": []}}, Source("-", 1)),
    Location("a.yaml", 3, 9),
    Suppression("config", "accepted", "2027-01-01", ".kubefort.yaml:4"),
]


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_reduce_keeps_every_field(obj: object) -> None:
    assert dataclasses.is_dataclass(obj)
    _fn, args = obj.__reduce__()  # type: ignore[misc]
    assert len(args) == len(dataclasses.fields(obj))  # type: ignore[arg-type]
    back = pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - our own bytes
    assert back == obj
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        assert getattr(back, f.name) == getattr(obj, f.name)
