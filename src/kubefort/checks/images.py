"""KF-IMG: container image references."""

from collections.abc import Iterator
from dataclasses import dataclass

from kubefort.kube.pods import ContainerView, PodView
from kubefort.model import NotEvaluated, Severity, Violation
from kubefort.registry import Mappings, check


@dataclass(frozen=True, slots=True)
class ImageRef:
    registry: str | None
    repository: str
    tag: str | None
    digest: str | None


def parse_image(ref: str) -> ImageRef:
    """Split `registry:5000/org/app:1.2@sha256:...` the way the container runtime does."""
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    name, tag = ref, None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
    first, _, rest = name.partition("/")
    registry = first if rest and ("." in first or ":" in first or first == "localhost") else None
    return ImageRef(registry, rest if registry else name, tag, digest)


@check(
    id="KF-IMG-001",
    name="mutable-image-tag",
    title="Image tag is mutable (latest or none)",
    severity=Severity.MEDIUM,
    target="container",
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",), mitre=("T1525",), owasp=("K02",),
        trivy=("KSV-0013",), checkov=("CKV_K8S_14",), kube_linter=("latest-tag",), polaris=("tagNotSpecified",),
    ),
    remediation="Reference an explicit version tag, or better a digest: image: registry.example.com/app:1.4.2@sha256:<digest>.",
)
def mutable_image_tag(pod: PodView, c: ContainerView, ctx: object) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose image has no tag or the tag `latest`, unless the image is pinned
    by digest (`@sha256:...`), which makes the tag irrelevant.

    ## Why is this bad?
    `latest` (and no tag, which means `latest`) points at whatever was pushed last. Two nodes
    can run different code under the same manifest, a rollback does not roll back, and an
    attacker who can push to the repository changes what runs without touching the cluster
    (MITRE ATT&CK T1525, Implant Internal Image).

    ## Example
    ```yaml
    containers:
    - name: app
      image: nginx
    - name: sidecar
      image: registry.example.com/proxy:latest
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: nginx:1.27.3@sha256:0a399eb16751829e1af26fea27b20c3ec28d7ab1fb72182879dcae1cca21206a
    ```

    ## References
    - https://kubernetes.io/docs/concepts/containers/images/#image-names
    - OWASP Kubernetes Top 10 K02: Supply Chain Vulnerabilities
    """
    image = c.str("image")
    if image is None:
        if c.kind == "ephemeral container":
            return
        raise NotEvaluated(f"{c.label()} has no image", c.at("image"))
    ref = parse_image(image.strip())
    if ref.digest:
        return
    if ref.tag is None:
        yield Violation(f"{c.label()} uses image {image!r} without a tag (means :latest)", c.at("image"))
    elif ref.tag == "latest":
        yield Violation(f"{c.label()} uses image {image!r} with the mutable tag 'latest'", c.at("image"))
