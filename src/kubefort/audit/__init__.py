"""API-server audit logs: read them, run the audit checks (KF-AUDIT-*), measure access.

| module        | what it holds                                                              |
|---------------|----------------------------------------------------------------------------|
| event.py      | `AuditEvent`: one event, typed fields, `AuditEventError` for unreadable ones |
| context.py    | what an audit check receives: `AuditScope`, `AuditContext`, `AuditServices` |
| analyzer.py   | `AuditAnalyzer`: which events are judged, runs the checks, builds outcomes  |
| read.py       | `iter_events`, `Reader`: files, directories, stdin, gzip, one line at a time; `AuditProblem`s (KF-INPUT-006) |
| read_formats.py, read_gke.py | what a JSON value holds: Events, EventLists, EKS CloudWatch records, GKE Cloud Audit Log entries |
| metrics.py    | `AuditMetrics`: access violations, Secret access, findings by check, time to detect (bounded) |
| services.py   | `default_services`: the `AuditServices` of one analysis (`ObjectOutcomes`: the per-object checks on a recorded body) |
| rbac_knowledge.py | `RbacKnowledge`: what a role grants and how risky, from the release's defaults and the cluster's RBAC |

The checks themselves are in `kubefort/checks/audit/`.
"""
