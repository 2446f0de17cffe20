"""API-server audit logs: read them, run the audit checks (KF-AUDIT-*), measure access.

| module        | what it holds                                                              |
|---------------|----------------------------------------------------------------------------|
| event.py      | `AuditEvent`: one event, typed fields, `AuditEventError` for unreadable ones |
| context.py    | what an audit check receives: `AuditScope`, `AuditContext`, `AuditServices` |
| analyzer.py   | `AuditAnalyzer`: which events are judged, runs the checks, builds outcomes  |

The checks themselves are in `kubefort/checks/audit/`.
"""
