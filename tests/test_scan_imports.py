"""A scan small enough for one process loads no process-pool machinery, nor X.509 parsing.

Start-up is most of the run for a chart-sized directory (a pre-commit hook), so modules a scan
rarely needs are imported where they are used: `multiprocessing` and `concurrent.futures` (with
`logging`, ~9 ms) only when a scan may use workers (inputs of 4 MiB or more, several rendered
inputs, cross-object checks on more than 200 objects with several jobs), and
`cryptography.x509` (~50 ms) only when KF-AUDIT-013 reads a CertificateSigningRequest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

RARE_MODULES = ("multiprocessing", "concurrent.futures", "cryptography.x509")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app{i}, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: app{i}}}}}
  template:
    metadata: {{labels: {{app: app{i}}}}}
    spec:
      containers:
      - {{name: app, image: "registry.example.com/app:1.{i}"}}
"""


def _modules_after(code: str) -> set[str]:
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return set(json.loads(p.stdout.splitlines()[-1]))


def test_importing_the_scan_loads_no_rarely_needed_module() -> None:
    modules = _modules_after(
        """
        import json, sys
        import kubefort.cli.scan, kubefort.checks, kubefort.engine, kubefort.drivers.manifests
        print(json.dumps(sorted(sys.modules)))
        """
    )
    assert not modules & set(RARE_MODULES)


def test_a_scan_of_a_small_directory_loads_no_rarely_needed_module(tmp_path: Path) -> None:
    for i in range(3):  # several inputs, default jobs: still one process below 4 MiB
        (tmp_path / f"app{i}.yaml").write_text(DEPLOYMENT.format(i=i))
    modules = _modules_after(
        f"""
        import json, sys
        from kubefort.cli import cli
        try:
            cli(["scan", {str(tmp_path)!r}, "-o", "json", "-q", "--fail-on", "never"], standalone_mode=False)
        except SystemExit:
            pass
        print()
        print(json.dumps(sorted(sys.modules)))
        """
    )
    assert "kubefort.drivers.manifests" in modules
    assert not modules & set(RARE_MODULES), sorted(modules & set(RARE_MODULES))
