"""KF-SEC: credentials in manifests. Secret values never appear in any message."""

from collections.abc import Iterator

from kubefort.model import NotEvaluated, Resource, Severity, Violation
from kubefort.registry import Mappings, check


@check(
    id="KF-SEC-001",
    name="secret-data-in-manifest",
    title="Secret object with data committed in a manifest",
    severity=Severity.HIGH,
    target="object",
    kinds=("Secret",),
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: Secrets",), mitre=("T1552.001",), owasp=("K08",),
    ),
    remediation="Keep secret values out of the repository: use an external secret store (External Secrets, Secrets Store CSI), SealedSecrets or SOPS, and commit only the reference.",
)
def secret_data_in_manifest(res: Resource, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags `Secret` objects (core `v1`) whose `data` or `stringData` holds at least one key.
    The message names the keys, never the values.

    ## Why is this bad?
    `data` is base64, not encryption: anyone who can read the repository, its forks, CI logs
    or a rendered chart has the credential, and it stays in git history after it is removed.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Secret
    metadata:
      name: db
    stringData:
      password: hunter2
    ```

    ## How to fix
    Commit a reference instead, for example an External Secrets Operator resource:
    ```yaml
    apiVersion: external-secrets.io/v1beta1
    kind: ExternalSecret
    metadata:
      name: db
    spec:
      secretStoreRef: {name: vault, kind: ClusterSecretStore}
      target: {name: db}
      data:
      - secretKey: password
        remoteRef: {key: prod/db, property: password}
    ```

    ## References
    - https://kubernetes.io/docs/concepts/security/secrets-good-practices/
    - OWASP Kubernetes Top 10 K08: Secrets Management Failures
    """
    if res.id.api_version != "v1":
        return
    for field in ("data", "stringData"):
        v = res.obj.get(field)
        if v is None:
            continue
        if not isinstance(v, dict):
            raise NotEvaluated(f"{field} is {type(v).__name__}, expected a mapping", (field,))
        keys = sorted(str(k) for k in v if v[k] not in (None, ""))
        if keys:
            shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
            yield Violation(f"Secret carries {len(keys)} value(s) in {field} (keys: {shown}); values not shown", (field,))
