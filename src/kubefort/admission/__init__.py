"""Admission control: kubefort's checks on objects as the API server creates them.

| module | what it holds |
|---|---|
| `review.py` | reading an `admission.k8s.io/v1` AdmissionReview, writing the answer |
| `policy.py` | the modes (enforce, warn, audit), their levels per namespace, per check |
| `judge.py` | one verdict: the object through the engine, the exceptions, the modes |
| `context.py` | the cross-object checks that run with the cache (KF-PSA-007, KF-WL-001) |
| `render.py` | the denial message, the warnings, the audit annotations |
| `cache.py` | Namespaces (and ServiceAccounts) from a watch; static labels without a cluster |
| `tls.py` | the server certificate, reloaded when its files change |
| `metrics.py` | the Prometheus metrics |
| `server.py` | the ASGI app and the HTTPS server |
| `install.py` | the ValidatingWebhookConfiguration |

`kubefort admission vap` (ValidatingAdmissionPolicies) lives in `vap*.py`. Nothing here is
imported unless an `admission` command runs.
"""
