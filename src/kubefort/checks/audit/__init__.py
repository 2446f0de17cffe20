"""KF-AUDIT: detections on API-server audit events (`target="audit"`, run by `kubefort audit`).

| module        | IDs      | what it looks at                                      |
|---------------|----------|-------------------------------------------------------|
| access.py     | 001      | interactive access into pods: exec, attach, port-forward |

The event model and analyzer are in `kubefort/audit/`; fixtures are
`tests/fixtures/audit/checks/<ID>.yaml` (tests/test_audit_checks.py).
"""

from kubefort.checks.audit import access  # noqa: F401  (importing the modules registers their checks)
