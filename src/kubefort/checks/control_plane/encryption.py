"""KF-CP: encryption of Secrets at rest: the API server flag (043) and its EncryptionConfiguration (044, 059)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubefort.checks.control_plane.common import API_REF, flags_set
from kubefort.checks.node_common import NODE_KINDS, node_meta, pod_example
from kubefort.kube.pods import type_name
from kubefort.model import CheckContext, NotApplicable, NotEvaluated, Path_, Resource, Severity, Violation, format_path
from kubefort.registry import check


@check(
    id="KF-CP-043",
    name="apiserver-encryption-at-rest-missing",
    title="API server does not encrypt Secrets at rest",
    verified="API server encrypts Secrets at rest",
    severity=Severity.HIGH,
    target="object",
    kinds=NODE_KINDS,
    remediation="Set --encryption-provider-config to an EncryptionConfiguration whose first provider for secrets is kms (v2) or secretbox.",
    **node_meta(
        cis=("1.2.27",),
        manual=True,
        peers={"trivy": ("KCV-0030",), "kubescape": ("C-0141", "C-0066")},
        mitre=("T1552",),
        owasp=("K08",),
        what="Flags an API server without `--encryption-provider-config`. KF-CP-044 and KF-CP-059 judge the file itself.",
        why="Without encryption at rest every Secret is stored in etcd (and its backups and snapshots) in plain text.",
        example=pod_example("kube-apiserver", "--etcd-servers=https://127.0.0.1:2379"),
        fix=pod_example("kube-apiserver", "--encryption-provider-config=/etc/kubernetes/enc/encryption.yaml"),
        refs=(API_REF, "https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/"),
    ),
)
def apiserver_encryption_at_rest_missing(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    yield from flags_set(res, "kube-apiserver", "encryption-provider-config")


def _covers_secrets(resources: Any, path: Path_) -> bool:
    """Whether a `resources` list names Secrets (null: an empty list); NotEvaluated for wrong types."""
    if resources is None:
        return False
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise NotEvaluated(f"{format_path(path)} is not a list of strings; the API server refuses the file", path)
    return any(r in ("secrets", "*.", "*.*") for r in resources)


def _secrets_providers(res: Resource) -> tuple[list[Any], Path_]:
    """The providers the API server uses for Secrets: the first `resources` entry that covers them."""
    if res.id.kind != "EncryptionConfiguration" or not res.id.api_version.startswith("apiserver.config.k8s.io/"):
        raise NotApplicable()
    entries = res.obj.get("resources")
    if not isinstance(entries, list):
        raise NotEvaluated(f"resources is {type_name(entries)}, expected a list", ("resources",))
    for i, e in enumerate(entries):
        if e is not None and not isinstance(e, dict):
            raise NotEvaluated(f"resources[{i}] is {type_name(e)}, expected a mapping", ("resources", i))
        if e is not None and _covers_secrets(e.get("resources"), ("resources", i, "resources")):
            providers = e.get("providers")
            if not isinstance(providers, list) or not providers:
                raise NotEvaluated(
                    f"resources[{i}].providers is empty or not a list; the API server refuses it",
                    ("resources", i, "providers"),
                )
            return providers, ("resources", i, "providers")
    return [], ("resources",)


def _provider_name(p: Any, path: Path_) -> str:
    # a null provider is no provider (the Go pointer stays nil), as if the key were left out
    keys = [k for k, v in p.items() if v is not None] if isinstance(p, dict) else []
    if len(keys) != 1:
        raise NotEvaluated(
            "a provider must be a mapping with exactly one key (identity, aescbc, aesgcm, secretbox, kms)", path
        )
    return str(keys[0])


@check(
    id="KF-CP-044",
    name="encryption-config-secrets-unencrypted",
    title="Encryption configuration stores Secrets unencrypted",
    verified="Encryption configuration stores Secrets encrypted",
    severity=Severity.HIGH,
    target="object",
    kinds=("EncryptionConfiguration",),
    remediation="Make the first provider for secrets kms (apiVersion v2), secretbox, aesgcm or aescbc; keep identity only last, for reading old data.",
    **node_meta(
        cis=("1.2.28",),
        manual=True,
        peers={"checkov": ("CKV_K8S_104",), "kubescape": ("C-0142",)},
        mitre=("T1552",),
        owasp=("K08",),
        what="Reads an `EncryptionConfiguration` (in `kubefort scan` input, or the file the API server's `--encryption-provider-config` "
        "names in `kubefort node`) and flags it when no `resources` entry covers `secrets` (`secrets`, `*.` or `*.*`) or when "
        "the first provider of the first entry that does is `identity` (or not a cipher at all).",
        why="The API server writes with the first provider only. `identity` first means new Secrets go to etcd in plain "
        "text even though an encryption key is configured.",
        example="```yaml\napiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n"
        "  providers:\n  - identity: {}\n  - aescbc:\n      keys: [{name: key1, secret: <base64>}]\n```",
        fix="```yaml\nresources:\n- resources: [secrets]\n  providers:\n  - kms:\n      apiVersion: v2\n      name: vault\n"
        "      endpoint: unix:///var/run/kms.sock\n  - identity: {}   # only to read data written before\n```",
        refs=("https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/",),
    ),
)
def encryption_config_secrets_unencrypted(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    providers, path = _secrets_providers(res)
    if not providers:
        yield Violation("no resources entry covers secrets: Secrets are stored unencrypted", path)
        return
    first = _provider_name(providers[0], path + (0,))
    if first not in ("aescbc", "aesgcm", "secretbox", "kms"):
        yield Violation(f"the first provider for secrets is {first}: new Secrets are written unencrypted", path + (0,))


@check(
    id="KF-CP-059",
    name="encryption-provider-weak",
    title="Secrets are encrypted with a weak or deprecated provider",
    verified="Secrets are encrypted with a current, strong provider",
    severity=Severity.MEDIUM,
    target="object",
    kinds=("EncryptionConfiguration",),
    remediation="Move Secrets to a kms provider with apiVersion v2 (or secretbox) as the first provider; keep the old one after it until everything is re-encrypted.",
    **node_meta(
        peers={"kubescape": ("C-0066",)},
        mitre=("T1552",),
        owasp=("K08",),
        what="Reads the provider the API server writes Secrets with (see KF-CP-044) and flags `aescbc` (CBC, vulnerable to padding-oracle "
        "attacks, not recommended by the Kubernetes documentation) and `kms` with `apiVersion: v1` or no apiVersion (KMS v1, "
        "deprecated since 1.28 and off by default since 1.29). `kms` v2, `secretbox` and `aesgcm` pass. Configurations that do "
        "not encrypt Secrets at all are KF-CP-044's finding, not this one's.",
        why="With `aescbc` or `aesgcm` the key sits next to the data on the control-plane node, and `aescbc` has known weaknesses; "
        "KMS v1 makes one remote call per object and is going away. KMS v2 keeps the key encryption key in an external KMS.",
        example="```yaml\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys: [{name: key1, secret: <base64>}]\n```",
        fix="```yaml\nresources:\n- resources: [secrets]\n  providers:\n  - kms:\n      apiVersion: v2\n      name: vault\n      endpoint: unix:///var/run/kms.sock\n  - aescbc:\n      keys: [{name: key1, secret: <base64>}]   # until re-encrypted\n```",
        refs=(
            "https://kubernetes.io/docs/tasks/administer-cluster/encrypt-data/#providers",
            "https://kubernetes.io/docs/tasks/administer-cluster/kms-provider/",
        ),
    ),
)
def encryption_provider_weak(res: Resource, ctx: CheckContext[None]) -> Iterator[Violation]:
    providers, path = _secrets_providers(res)
    if not providers:
        raise NotApplicable()
    first = _provider_name(providers[0], path + (0,))
    if first == "aescbc":
        yield Violation(
            "Secrets are encrypted with aescbc (CBC mode; the Kubernetes documentation recommends kms v2 or secretbox)",
            path + (0,),
        )
    elif first == "kms":
        conf = providers[0]["kms"]
        api = conf.get("apiVersion") if isinstance(conf, dict) else conf
        if not isinstance(conf, dict) or (api is not None and not isinstance(api, str)):
            raise NotEvaluated(
                "the kms provider or its apiVersion has the wrong type; the API server refuses the file", path + (0,)
            )
        api = api or "v1"
        if api != "v2":
            yield Violation(
                f"Secrets are encrypted with KMS {api} (deprecated since Kubernetes 1.28; use apiVersion v2)",
                path + (0,),
            )
    elif first not in ("aesgcm", "secretbox"):
        raise NotApplicable()
