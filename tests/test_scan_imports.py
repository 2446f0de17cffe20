"""A scan small enough for one process loads no process-pool machinery, nor X.509 parsing.

Start-up is most of the run for a chart-sized directory (a pre-commit hook), so modules a scan
rarely needs are imported where they are used: `multiprocessing` and `concurrent.futures` (with
`logging`, ~9 ms) only when a scan may use workers (inputs of 4 MiB or more, several rendered
inputs, cross-object checks on more than 200 objects with several jobs), and
`cryptography.x509` (~50 ms) only when KF-AUDIT-013 reads a CertificateSigningRequest.
The KF-AUDIT checks and the audit package (~50 ms) are a deferred area of the registry
(`Registry.defer`): imported the first time something names or lists them, never by a scan.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

RARE_MODULES = ("multiprocessing", "concurrent.futures", "cryptography.x509", "kubefort.checks.audit", "kubefort.audit")

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


def _audit_loaded_after(code: str) -> bool:
    modules = _modules_after(
        "import json, sys\nfrom kubefort.registry import load_builtin_checks\nreg = load_builtin_checks()\n"
        + textwrap.dedent(code)
        + "\nprint(json.dumps(sorted(sys.modules)))"
    )
    return "kubefort.checks.audit" in modules


def test_the_audit_checks_are_there_whenever_something_asks_for_them() -> None:
    """Deferring the KF-AUDIT area changes no answer of the registry: every way of reaching one
    of its checks (its ID, its name, a prefix that covers it, listing or counting every check)
    imports it; lookups that cannot reach it do not."""
    assert not _audit_loaded_after("reg.get('KF-POD-001'); reg.select(['KF-POD', 'KF-RBAC-001'])")
    assert not _audit_loaded_after("list(reg.iter_without(['KF-AUDIT-']))")
    for reach in (
        "assert reg.get('KF-AUDIT-001').target == 'audit'",
        "assert reg.get('kf-audit-001').target == 'audit'",
        "assert reg.get(__import__('kubefort.checks.audit', fromlist=['x']) and 'KF-AUDIT-002').id",
        "assert any(m.id.startswith('KF-AUDIT-') for m in reg.select(['KF-AU']))",
        "assert any(m.id.startswith('KF-AUDIT-') for m in reg.select(['KF-']))",
        "assert any(m.id.startswith('KF-AUDIT-') for m in reg)",
        "assert len(reg) > len(list(reg.iter_without(['KF-AUDIT-'])))",
    ):
        assert _audit_loaded_after(reach), reach


def test_a_check_name_of_the_deferred_area_is_found() -> None:
    from kubefort.registry import load_builtin_checks

    reg = load_builtin_checks()
    names = {m.id: m.name for m in reg if m.id.startswith("KF-AUDIT-")}
    assert names
    code = "\n".join(f"assert reg.get({n!r}).id == {i!r}" for i, n in sorted(names.items())[:1])
    assert _audit_loaded_after(code)
