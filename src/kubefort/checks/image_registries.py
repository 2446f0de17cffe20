"""KF-IMG-004..006: where images come from (an allow-list, a block-list, retired registries).

Images are compared as the runtime resolves them (`kubefort.checks.images.normalized_name`):
`nginx` is `docker.io/library/nginx`, `index.docker.io` is `docker.io`, hosts in lower case.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from kubefort.checks.images import DOCKER_HUB, DOCKER_HUB_ALIASES, container_image, normalized_name
from kubefort.kube import imageref
from kubefort.kube.pods import ContainerView, PodView
from kubefort.model import CheckContext, NotApplicable, OffUntilSet, Severity, Violation
from kubefort.registry import Mappings, check

_ENTRY_EXAMPLES = "examples: registry.example.com, ghcr.io/my-org, docker.io/library, *.dkr.ecr.eu-west-1.amazonaws.com"


def check_registry_entries(option: str, entries: tuple[str, ...]) -> None:
    """Raise ValueError for an entry that is not `[*.]host[:port][/path]` of the reference grammar."""
    for entry in entries:
        e = entry.strip().rstrip("/")
        host, _, path = e.partition("/")
        host = host.removeprefix("*.")
        if "://" in e or "@" in e or not imageref.is_domain(host) or (path != "" and not imageref.is_path(path)):
            raise ValueError(f"{option}: {entry!r} is not a registry host or host/path prefix ({_ENTRY_EXAMPLES})")


@dataclass(frozen=True, slots=True)
class ImageAllowOptions(OffUntilSet):
    """Options of KF-IMG-004 (`.kubefort.yaml`: `options: {KF-IMG-004: {allowed_registries: [...]}}`)."""

    allowed_registries: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_registry_entries("allowed_registries", self.allowed_registries)


@dataclass(frozen=True, slots=True)
class ImageBlockOptions(OffUntilSet):
    """Options of KF-IMG-006 (`.kubefort.yaml`: `options: {KF-IMG-006: {blocked_registries: [...]}}`)."""

    blocked_registries: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_registry_entries("blocked_registries", self.blocked_registries)


def matching_registry_entry(name: str, entries: tuple[str, ...]) -> str | None:
    """The first entry (of an allow- or block-list) that matches the normalized repository
    `name`, else None.

    Entries match whole path components: `ghcr.io/acme` admits `ghcr.io/acme/app`, not
    `ghcr.io/acme-evil/app`; `registry.example.com` does not admit `registry.example.com.evil.io`.
    A leading `*.` matches any number of host labels: `*.dkr.ecr.eu-west-1.amazonaws.com`.
    """
    host, _, path = name.partition("/")
    for raw in entries:
        entry = raw.strip().rstrip("/")
        e_host, _, e_path = entry.partition("/")
        e_host = e_host.lower()
        if e_host in DOCKER_HUB_ALIASES:
            e_host = DOCKER_HUB
        if e_host.startswith("*."):
            if not (host.endswith(e_host[1:]) and len(host) > len(e_host) - 1):
                continue
        elif host != e_host:
            continue
        if not e_path or path == e_path or path.startswith(e_path + "/"):
            return raw
    return None


@check(
    id="KF-IMG-004",
    name="image-registry-not-allowed",
    title="Image comes from a registry outside the allow-list",
    verified="Image comes from an allowed registry",
    severity=Severity.MEDIUM,
    target="container",
    options=ImageAllowOptions,
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",),
        mitre=("T1525", "T1195.002"),
        owasp=("K02", "K04"),
        trivy=("KSV-0125",),
        kubescape=("C-0078",),
    ),
    remediation="Mirror the image into an allowed registry and reference it from there, or add its registry to allowed_registries after review.",
)
def image_registry_not_allowed(
    pod: PodView, c: ContainerView, ctx: CheckContext[ImageAllowOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    **Off until configured.** With `allowed_registries` empty (the default) this check records
    no outcome at all, for any container: there is nothing to compare against, and a pass
    would claim a review that did not happen. Set the list in `.kubefort.yaml` to turn it on.
    (An object whose pod spec is malformed still gets a not-evaluated outcome, as for every
    container check: the engine records it before any check runs.)

    Flags containers (init and ephemeral containers too) whose image's registry and
    repository do not start with an allowed entry. Images are compared as the runtime
    resolves them: `nginx` is `docker.io/library/nginx`, `bitnami/redis` is
    `docker.io/bitnami/redis`, and `index.docker.io` is `docker.io`. An entry is a host
    (`registry.example.com`, `registry.example.com:5000`) or a host and path prefix
    (`ghcr.io/acme`, `docker.io/library`), matched on whole path components, so
    `ghcr.io/acme` does not admit `ghcr.io/acme-evil/app` (the open-ended prefix Trivy
    KSV-0124 warns about in Gatekeeper policies). A leading `*.` admits any subdomain:
    `*.dkr.ecr.eu-west-1.amazonaws.com`. Hosts compare case-insensitively. KF-IMG-006 is the
    block-list counterpart (both can be on: an image must be allowed and not blocked).

    ## Options
    - `allowed_registries` (list of strings, default empty = check off): registry hosts or
      host/path prefixes, as above. A malformed entry (a URL with a scheme, a tag or digest,
      an upper-case path) is a configuration error.

    ```yaml
    # .kubefort.yaml
    options:
      KF-IMG-004:
        allowed_registries: [registry.example.com, ghcr.io/acme, docker.io/library]
    ```

    ## Why is this bad?
    An image from an unreviewed registry is code from an unreviewed supplier running inside
    the cluster: typosquatted public images and hijacked accounts are common supply-chain
    entry points (MITRE ATT&CK T1195.002, T1525). An allow-list in CI, enforced again at
    admission (Kyverno, Gatekeeper `K8sAllowedRepos`, ValidatingAdmissionPolicy), keeps every
    image on a path that is scanned and mirrored.

    ## Example
    With `allowed_registries: [registry.example.com]`:
    ```yaml
    containers:
    - name: app
      image: docker.io/someone/app:1.0
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/mirror/someone/app:1.0
    ```

    ## Not applicable when
    KF-IMG-004 is off: no allowed_registries configured (the default). No container gets an
    outcome until the option is set.

    ## Not evaluated when
    The image is missing or not a reference the kubelet can parse (an unrendered template).

    ## References
    - https://kubernetes.io/docs/concepts/containers/images/#image-names
    - https://open-policy-agent.github.io/gatekeeper-library/website/validation/allowedrepos/
    - OWASP Kubernetes Top 10 K04: Lack of Centralized Policy Enforcement
    """
    opts = ctx.options
    if not opts.allowed_registries:
        raise NotApplicable("KF-IMG-004 is off: no allowed_registries configured")
    image = container_image(c)
    if image is None:
        return
    name = normalized_name(image.ref)
    if matching_registry_entry(name, opts.allowed_registries) is None:
        yield Violation(
            f"{c.label()} uses image {image.text!r} ({name}), which no allowed_registries entry admits", c.at("image")
        )


@check(
    id="KF-IMG-006",
    name="image-registry-blocked",
    title="Image comes from a blocked registry",
    verified="Image comes from no blocked registry",
    severity=Severity.MEDIUM,
    target="container",
    options=ImageBlockOptions,
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",),
        mitre=("T1525", "T1195.002"),
        owasp=("K02", "K04"),
        trivy=("KSV-0034",),
        kubescape=("C-0001",),
    ),
    remediation="Pull the image from an approved registry (mirror it there after review) instead of the blocked one.",
)
def image_registry_blocked(pod: PodView, c: ContainerView, ctx: CheckContext[ImageBlockOptions]) -> Iterator[Violation]:
    """
    ## What it does
    **Off until configured.** With `blocked_registries` empty (the default) this check records
    no outcome at all. Set the list in `.kubefort.yaml` to turn it on.

    Flags containers (init and ephemeral containers too) whose image's registry and
    repository start with a blocked entry, compared exactly as KF-IMG-004 compares its
    allow-list: images as the runtime resolves them (`nginx` is `docker.io/library/nginx`,
    `index.docker.io` is `docker.io`), entries matched on whole path components
    (`docker.io/someone` does not block `docker.io/someone-else/app`), `*.` for any
    subdomain, hosts case-insensitively. Use it beside KF-IMG-004 to carve exceptions out of
    an allowed registry (allow `docker.io`, block `docker.io/untrusted-org`), or alone to keep
    known-bad or public registries out (Kubescape C-0001 "Forbidden container registries").

    ## Options
    - `blocked_registries` (list of strings, default empty = check off): registry hosts or
      host/path prefixes (`docker.io`, `quay.io/untrusted-org`, `*.example.net`). A malformed
      entry (a URL with a scheme, a tag or digest, an upper-case path) is a configuration error.

    ```yaml
    # .kubefort.yaml
    options:
      KF-IMG-006:
        blocked_registries: [docker.io/untrusted-org, public.ecr.aws]
    ```

    ## Why is this bad?
    A registry is blocked because its images are not reviewed, scanned or mirrored, or because
    it is known to host typosquatted or hijacked images: running one brings unreviewed code
    into the cluster (MITRE ATT&CK T1195.002, Compromise Software Supply Chain; T1525).

    ## Example
    With `blocked_registries: [docker.io/untrusted-org]`:
    ```yaml
    containers:
    - name: app
      image: untrusted-org/app:1.0
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/mirror/untrusted-org/app:1.0
    ```

    ## Not applicable when
    KF-IMG-006 is off: no blocked_registries configured (the default). No container gets an
    outcome until the option is set.

    ## Not evaluated when
    The image is missing or not a reference the kubelet can parse (an unrendered template).

    ## References
    - https://kubernetes.io/docs/concepts/containers/images/#image-names
    - https://hub.armosec.io/docs/c-0001
    - OWASP Kubernetes Top 10 K04: Lack of Centralized Policy Enforcement
    """
    opts = ctx.options
    if not opts.blocked_registries:
        raise NotApplicable("KF-IMG-006 is off: no blocked_registries configured")
    image = container_image(c)
    if image is None:
        return
    name = normalized_name(image.ref)
    entry = matching_registry_entry(name, opts.blocked_registries)
    if entry is not None:
        yield Violation(
            f"{c.label()} uses image {image.text!r} ({name}), which the blocked_registries entry {entry!r} blocks",
            c.at("image"),
        )


@dataclass(frozen=True, slots=True)
class DeprecatedRegistry:
    prefix: str  # normalized host/path prefix, matched on whole components
    replacement: str  # what to use instead; "{rest}" is the path after the prefix
    notice: str  # why, with the date of the notice


DEPRECATED_REGISTRIES: tuple[DeprecatedRegistry, ...] = (
    DeprecatedRegistry(
        "k8s.gcr.io",
        "registry.k8s.io/{rest}",
        "k8s.gcr.io was frozen on 2023-04-03 and redirects to registry.k8s.io; it receives no new images or patches",
    ),
    DeprecatedRegistry(
        "gcr.io/google-containers",
        "registry.k8s.io/{rest}",
        "gcr.io/google-containers is the retired predecessor of k8s.gcr.io; registry.k8s.io serves the same images",
    ),
    DeprecatedRegistry(
        "gcr.io/google_containers",
        "registry.k8s.io/{rest}",
        "gcr.io/google_containers is the retired predecessor of k8s.gcr.io; registry.k8s.io serves the same images",
    ),
    DeprecatedRegistry(
        "gcr.io/kubebuilder",
        "quay.io/brancz/kube-rbac-proxy (or controller-runtime's built-in metrics authentication)",
        "gcr.io/kubebuilder images became unavailable with the Container Registry shutdown (announced by Kubebuilder, 2024-11; from 2025-03-18)",
    ),
    DeprecatedRegistry(
        "docker.pkg.github.com",
        "ghcr.io/<owner>/<image>",
        "GitHub's Docker registry docker.pkg.github.com was replaced by the Container registry ghcr.io",
    ),
)


_DEPRECATED_PREFIXES = tuple(d.prefix for d in DEPRECATED_REGISTRIES)


def deprecated_registry(name: str) -> DeprecatedRegistry | None:
    if not name.startswith(_DEPRECATED_PREFIXES):  # nearly every image: one C-level test, no loop
        return None
    for d in DEPRECATED_REGISTRIES:
        if name == d.prefix or name.startswith(d.prefix + "/"):
            return d
    return None


@check(
    id="KF-IMG-005",
    name="deprecated-image-registry",
    title="Image comes from a frozen or retired registry",
    verified="Image comes from a registry that is still maintained",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",),
        mitre=("T1195.002",),
        owasp=("K02",),
        kubescape=("C-0253",),
    ),
    remediation="Pull the image from the registry that replaced the retired one (for k8s.gcr.io and gcr.io/google-containers: registry.k8s.io, same image names) and move to a currently patched version.",
)
def deprecated_image_registry(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers (init and ephemeral containers too) whose image comes from a registry or
    registry path that its operator has frozen or retired with a public notice:

    | image prefix | status | use instead |
    |---|---|---|
    | `k8s.gcr.io` | frozen 2023-04-03, redirects to registry.k8s.io | `registry.k8s.io` (same paths) |
    | `gcr.io/google-containers`, `gcr.io/google_containers` | retired predecessor of k8s.gcr.io | `registry.k8s.io` (same paths) |
    | `gcr.io/kubebuilder` | unavailable since the GCR shutdown (2025-03-18) | `quay.io/brancz/kube-rbac-proxy`, or controller-runtime's metrics authentication |
    | `docker.pkg.github.com` | replaced by the GitHub Container registry | `ghcr.io` |

    Unlike Kubescape C-0253, which looks at `kube-system` only, every namespace is checked.
    `gcr.io` as a whole is not flagged: after Google's Container Registry shutdown its
    hostnames keep working through Artifact Registry.

    ## Why is this bad?
    A frozen registry gets no new images, so whatever is pulled from it is no longer patched:
    known vulnerabilities stay in the running workload (OWASP K02). Retired paths stop
    resolving outright, so a rescheduled pod cannot start, and a retired namespace that
    someone else later controls would serve their images (MITRE ATT&CK T1195.002).

    ## Example
    ```yaml
    containers:
    - name: metrics
      image: k8s.gcr.io/metrics-server/metrics-server:v0.6.2
    ```

    ## How to fix
    ```yaml
    containers:
    - name: metrics
      image: registry.k8s.io/metrics-server/metrics-server:v0.7.2
    ```

    ## Not evaluated when
    The image is missing or not a reference the kubelet can parse (an unrendered template).

    ## References
    - https://kubernetes.io/blog/2023/02/06/k8s-gcr-io-freeze-announcement/
    - https://kubernetes.io/blog/2023/03/10/image-registry-redirect/
    - https://github.com/kubernetes-sigs/kubebuilder/discussions/3907
    - https://docs.github.com/packages/working-with-a-github-packages-registry/migrating-to-the-container-registry-from-the-docker-registry
    """
    image = container_image(c)
    if image is None:
        return
    name = normalized_name(image.ref)
    d = deprecated_registry(name)
    if d is not None:
        rest = name[len(d.prefix) + 1 :]
        use = d.replacement.format(rest=rest)
        yield Violation(f"{c.label()} uses image {image.text!r}: {d.notice}; use {use}", c.at("image"))
