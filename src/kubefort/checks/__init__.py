"""Every built-in check, imported explicitly (one module per ID area).

| module            | IDs          | what it looks at                                   |
|-------------------|--------------|----------------------------------------------------|
| input.py          | KF-INPUT-*   | files that cannot be read, parsed or rendered       |
| meta.py           | KF-META-*    | kubefort's own annotations on objects               |
| pod_security.py   | KF-POD-*     | pod and container security settings                 |
| images.py         | KF-IMG-*     | container image references                          |
| secrets.py        | KF-SEC-*     | credentials in manifests                            |
"""

from kubefort.checks import images, input, meta, pod_security, secrets  # noqa: F401
