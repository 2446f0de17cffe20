"""The public engine API: every driver (manifest scans, cluster scans, node scans, admission)
runs checks through `Engine`.

    from kubefort.engine import Engine, EngineSettings

    engine = Engine(EngineSettings(check_ids=("KF-POD-001", ...)))
    part = engine.evaluate(loaded_input)          # per-object checks -> Partial
    result = engine.finish(part, config=config)   # cross-object checks, exceptions -> ScanResult
    outcomes = engine.check_object(obj)           # one object, per-object checks only

See docs/architecture.md.
"""

from kubefort.engine.core import INPUT_CHECKS, Engine, EngineSettings, Partial
from kubefort.engine.exceptions import apply_exceptions, inline_ignores
from kubefort.engine.index import POD_KINDS, Gaps, Index
from kubefort.engine.recorder import CLUSTER_SCHEME, Recorder

__all__ = [
    "CLUSTER_SCHEME",
    "INPUT_CHECKS",
    "POD_KINDS",
    "Engine",
    "EngineSettings",
    "Gaps",
    "Index",
    "Partial",
    "Recorder",
    "apply_exceptions",
    "inline_ignores",
]
