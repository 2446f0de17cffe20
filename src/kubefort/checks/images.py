"""KF-IMG-001..003: container image references (tags, digests, pull policy); the image reading
that every KF-IMG check shares. KF-IMG-004..006 (where images come from) are in image_registries.py.

Every check reads the image the way the kubelet does (`kubefort.kube.imageref`: the grammar of
distribution/reference and go-digest's digest rules): a digest pins the image only when the
kubelet would accept it (a registered algorithm, exact length, lower-case hex); a reference the
kubelet cannot parse is not evaluated, with the grammar's reason.
"""

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from kubefort.kube import imageref
from kubefort.kube.imageref import ImageRefError, Reference
from kubefort.kube.pods import ContainerView, PodView, memoised
from kubefort.model import CheckContext, NotEvaluated, Severity, Violation
from kubefort.registry import Mappings, check

# `${IMAGE}`, `$(IMAGE)`, `$IMAGE`, `{{ .Values.image }}`, `<your-image>`: not an image reference yet
PLACEHOLDER = re.compile(r"\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*?\}\}|<[^>]+>")
DOCKER_HUB = imageref.DEFAULT_DOMAIN
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


@dataclass(frozen=True, slots=True)
class ImageRef:
    """Registry, repository, tag and (valid) digest of an image, for checks that read names."""

    registry: str | None
    repository: str
    tag: str | None
    digest: str | None


def _image_ref(ref: Reference) -> ImageRef:
    return ImageRef(ref.domain or None, ref.path, ref.tag, str(ref.digest) if ref.digest else None)


@functools.lru_cache(maxsize=8192)  # a pure function of the text, like _read below
def parse_image(ref: str) -> ImageRef:
    """The image's registry, repository, tag and digest, never raising: as the kubelet reads it
    (`nginx` -> docker.io, library/nginx) when the reference is valid; a digest the kubelet
    refuses is dropped (it pins nothing); a reference it cannot parse at all is split at its
    last "@", ":" and first "/" so that name-based checks can still recognise it."""
    found = _read(ref)
    if isinstance(found, Reference):
        return _image_ref(found)
    if found.without_digest is not None:
        return _image_ref(found.without_digest)
    return _lenient_split(ref)


def _lenient_split(ref: str) -> ImageRef:
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    name, tag = ref, None
    if ":" in ref.rsplit("/", 1)[-1]:
        name, tag = ref.rsplit(":", 1)
    first, _, rest = name.partition("/")
    registry = first if rest and ("." in first or ":" in first or first == "localhost") else None
    return ImageRef(registry, rest if registry else name, tag, digest)


# Pure function of the reference text, cached by value: the same images recur in every replica,
# container and chart of a scan (and in every admission request for a workload).
@functools.lru_cache(maxsize=8192)
def _read(text: str) -> Reference | ImageRefError:
    try:
        return imageref.parse_normalized(text)
    except ImageRefError as exc:
        return exc


@dataclass(frozen=True, slots=True)
class Image:
    """A container's image: as written, the name and tag the kubelet reads, and whether it is pinned."""

    text: str
    ref: ImageRef  # digest set only when it is one the kubelet accepts
    bad_digest: str | None = None  # why the digest after "@" pins nothing (the kubelet refuses the reference)

    @property
    def pinned(self) -> bool:
        return self.ref.digest is not None


def container_image(c: ContainerView) -> Image | None:
    """The container's image, or None for an ephemeral container without one.

    Raises NotEvaluated when the image is missing or the kubelet could not parse it (an
    unrendered template such as `{{ .Values.image }}` or `${IMAGE}`, a build-tool URL such as
    `ko://...`), with the grammar's reason. A reference whose only fault is its digest is
    read without it (`bad_digest` says why): it names an image but pins nothing.
    """
    # every KF-IMG check asks it of every container: validated and parsed once per container
    return memoised(c.memo, "container_image", _container_image, c)


def _container_image(c: ContainerView) -> Image | None:
    image = c.str("image")
    if image is None:
        if c.kind == "ephemeral container":
            return None
        raise NotEvaluated(f"{c.label()} has no image", c.at("image"))
    found = _image(image)
    if isinstance(found, Image):
        return found
    if PLACEHOLDER.search(image):
        raise NotEvaluated(
            f"{c.label()}: image {image!r} is a template placeholder, filled in at deploy time", c.at("image")
        )
    raise NotEvaluated(
        f"{c.label()}: image {image!r} is not a valid image reference: {found.reason} "
        "(the kubelet refuses it: InvalidImageName)",
        c.at("image"),
    )


@functools.lru_cache(maxsize=8192)  # a pure function of the text (Images are immutable)
def _image(text: str) -> Image | ImageRefError:
    """The image written `text`, or the grammar's error when the kubelet cannot read it at all."""
    found = _read(text)
    if isinstance(found, Reference):
        return Image(text, _image_ref(found))
    if found.without_digest is not None:
        return Image(text, _image_ref(found.without_digest), found.reason)
    return found


@functools.lru_cache(maxsize=8192)  # a pure function of an (immutable) reference: three checks ask it of every image
def normalized_name(ref: ImageRef) -> str:
    """The repository as the runtime resolves it: `nginx` -> `docker.io/library/nginx`; the
    host in lower case (DNS names are case-insensitive), Docker Hub's aliases as `docker.io`."""
    host = (ref.registry or DOCKER_HUB).lower()
    if host in DOCKER_HUB_ALIASES:
        repo = ref.repository if "/" in ref.repository else f"library/{ref.repository}"
        return f"{DOCKER_HUB}/{repo}"
    return f"{host}/{ref.repository}"


# Tags that registries and projects move by convention: release channels and branch builds.
DEFAULT_FLOATING_TAGS: tuple[str, ...] = (
    "latest",
    "master",
    "main",
    "stable",
    "edge",
    "nightly",
    "dev",
    "devel",
    "develop",
    "development",
    "canary",
    "unstable",
    "testing",
    "snapshot",
    "head",
    "trunk",
    "next",
    "current",
    "rolling",
    "lts",
    "alpha",
    "beta",
    "preview",
    "experimental",
)


@dataclass(frozen=True, slots=True)
class FloatingTagOptions:
    """Options of KF-IMG-001 and KF-IMG-003 (`.kubefort.yaml`: `options: {KF-IMG-001: {floating_tags: [...]}}`)."""

    floating_tags: tuple[str, ...] = DEFAULT_FLOATING_TAGS

    def __post_init__(self) -> None:
        for tag in self.floating_tags:
            if not imageref.is_tag(tag):
                raise ValueError(
                    f"floating_tags: {tag!r} is not an image tag (1-128 letters, digits, '_', '.' or '-', "
                    "not starting with '.' or '-')"
                )


def effective_tag(ref: ImageRef) -> str | None:
    """The tag the kubelet pulls: the written one, `latest` when there is neither tag nor digest."""
    if ref.tag is None and ref.digest is None:
        return "latest"
    return ref.tag


def floating_tag(image: Image, floating: tuple[str, ...]) -> str | None:
    """The floating tag the image is pulled by (compared case-insensitively), None when it is
    pinned by a valid digest or its tag is not in `floating`."""
    if image.pinned:
        return None
    tag = image.ref.tag if image.ref.tag is not None else "latest"  # an invalid digest pins nothing
    return tag if tag.lower() in _lowered(floating) else None


@functools.lru_cache(maxsize=64)  # one per configured list
def _lowered(tags: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t.lower() for t in tags)


def _how(image: Image, tag: str) -> str:
    why = "no tag, which means 'latest'" if image.ref.tag is None else f"the floating tag {tag!r}"
    if image.bad_digest:
        why += f"; its digest pins nothing: {image.bad_digest}"
    return why


@check(
    id="KF-IMG-001",
    name="mutable-image-tag",
    title="Image tag is floating (none, latest, or another moving tag)",
    verified="Image is pinned by digest or names a fixed tag",
    severity=Severity.MEDIUM,
    target="container",
    options=FloatingTagOptions,
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",),
        mitre=("T1525",),
        owasp=("K02",),
        trivy=("KSV-0013",),
        checkov=("CKV_K8S_14",),
        kube_linter=("latest-tag",),
        polaris=("tagNotSpecified",),
    ),
    remediation="Reference an explicit version tag, or better a digest: image: registry.example.com/app:1.4.2@sha256:<digest>.",
)
def mutable_image_tag(pod: PodView, c: ContainerView, ctx: CheckContext[FloatingTagOptions]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers (init and ephemeral containers too) whose image has no tag (which means
    `latest`) or a *floating* tag: `latest` and the tags that projects move by convention,
    `master`, `main`, `stable`, `edge`, `nightly`, `dev`, `devel`, `develop`, `development`,
    `canary`, `unstable`, `testing`, `snapshot`, `head`, `trunk`, `next`, `current`,
    `rolling`, `lts`, `alpha`, `beta`, `preview`, `experimental` (compared case-insensitively;
    the list is configurable). An image pinned by a digest the kubelet accepts
    (`@sha256:` and 64 lower-case hex digits, or `sha384`/`sha512` of their length) passes
    whatever its tag, because the runtime pulls by digest. A digest the kubelet would refuse
    (`@md5:...`, upper-case hex, a wrong length) pins nothing: such an image is judged by its
    tag, and the message says why the digest does not count.

    Trivy, Checkov, Polaris and KubeLinter flag only `latest` and missing tags; kubefort also
    flags the conventional channel tags above, which move just as `latest` does.

    ## Options
    - `floating_tags` (list of tags, default the list above): the tags that count as floating.
      Each entry must be a valid image tag. Remove `latest` to accept untagged images and
      `:latest`; add your own channel names (`release`, `prod`) to flag them too. KF-IMG-003
      takes the same option.

    ```yaml
    # .kubefort.yaml
    options:
      KF-IMG-001:
        floating_tags: [latest, main, stable, nightly, prod]
    ```

    ## Why is this bad?
    A floating tag points at whatever was pushed last. Two nodes can run different code under
    the same manifest, a rollback does not roll back, and an attacker who can push to the
    repository changes what runs without touching the cluster (MITRE ATT&CK T1525, Implant
    Internal Image).

    ## Example
    ```yaml
    containers:
    - name: app
      image: nginx
    - name: sidecar
      image: registry.example.com/proxy:stable
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: nginx:1.27.3@sha256:0a399eb16751829e1af26fea27b20c3ec28d7ab1fb72182879dcae1cca21206a
    ```

    ## Not evaluated when
    The image is missing (except on ephemeral containers), is still a template placeholder
    (`${IMAGE}`, `$IMAGE`, `{{ .Values.image }}`, `<image>`), or is not a reference the kubelet
    can parse (the message gives the grammar's reason).

    ## References
    - https://kubernetes.io/docs/concepts/containers/images/#image-names
    - https://github.com/distribution/reference/blob/main/reference.go (the reference grammar)
    - OWASP Kubernetes Top 10 K02: Supply Chain Vulnerabilities
    """
    image = container_image(c)
    if image is None:
        return
    tag = floating_tag(image, ctx.options.floating_tags)
    if tag is not None:
        yield Violation(f"{c.label()} uses image {image.text!r} with {_how(image, tag)}", c.at("image"))


@check(
    id="KF-IMG-002",
    name="image-not-pinned-by-digest",
    title="Image is referenced by tag, not by digest",
    verified="Image is pinned by digest",
    severity=Severity.LOW,
    target="container",
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",),
        mitre=("T1525", "T1195.002"),
        owasp=("K02",),
        checkov=("CKV_K8S_43",),
        kubescape=("C-0306",),
    ),
    remediation="Pin every image by digest, keeping the tag for readers: image: registry.example.com/app:1.4.2@sha256:<digest>.",
)
def image_not_pinned_by_digest(pod: PodView, c: ContainerView, ctx: CheckContext[None]) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers (init and ephemeral containers too) whose image is not pinned by a digest
    the kubelet accepts, whatever the tag. `app:1.4.2@sha256:<64 hex>` passes: the runtime
    pulls by digest and ignores the tag.

    A digest pins only when the kubelet and containerd would accept it (go-digest's rules):
    a registered algorithm (`sha256`, `sha384` or `sha512`) followed by exactly 64, 96 or 128
    lower-case hex digits. `@md5:...`, `@sha1:...`, `@sha256:` with upper-case hex or the
    wrong number of digits pin nothing (the kubelet refuses such a reference with
    `InvalidImageName`, so the pod never starts): they fail, and the message says why.

    ## Why is this bad?
    A tag is a pointer the registry lets anyone with push rights move. Even a version tag such
    as `1.4.2` can be re-pushed, so the code that runs is decided by the registry at pull time,
    not by the reviewed manifest: a compromised registry account or CI pipeline changes every
    workload at its next restart (MITRE ATT&CK T1525 Implant Internal Image, T1195.002
    Compromise Software Supply Chain). A digest is the hash of the image manifest: it cannot
    point at anything else. This check is stricter than KF-IMG-001 and is meant for clusters
    that want reproducible deployments; tools such as Renovate, `crane digest` or Kyverno's
    `verifyImages` keep digests current.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2
    - name: sidecar
      image: registry.example.com/proxy:2.0@sha256:3B0C2F7E   # not a digest the kubelet accepts
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2@sha256:3b0c2f7e0d4f1a9d2c51f1d0c1e9f7a1b2c3d4e5f60718293a4b5c6d7e8f9012
    ```

    ## Not evaluated when
    The image is missing (except on ephemeral containers) or is not a reference the kubelet
    can parse apart from its digest, for example an unrendered template
    (`{{ .Values.image }}`, `${IMAGE}`) or `ko://...` (the message gives the grammar's reason).

    ## References
    - https://kubernetes.io/docs/concepts/containers/images/#image-names
    - https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
    - https://github.com/opencontainers/go-digest (registered algorithms and their lengths)
    - OWASP Kubernetes Top 10 K02: Supply Chain Vulnerabilities
    """
    image = container_image(c)
    if image is None or image.pinned:
        return
    ref = image.ref
    if image.bad_digest:
        yield Violation(
            f"{c.label()} uses image {image.text!r}, whose digest pins nothing: {image.bad_digest} "
            "(the kubelet refuses this reference)",
            c.at("image"),
        )
    else:
        how = f"tag {ref.tag!r}" if ref.tag else "no tag, so latest"
        yield Violation(f"{c.label()} uses image {image.text!r} without a digest ({how})", c.at("image"))


PULL_POLICIES = ("Always", "IfNotPresent", "Never")


def default_pull_policy(image: Image) -> str:
    """What the API server sets when imagePullPolicy is unset (core/v1 SetDefaults_Container):
    `Always` when ParseImageName reads the tag `latest` (written, or neither tag nor digest),
    else `IfNotPresent`, also for a reference it cannot parse (a refused digest)."""
    if image.bad_digest is None and effective_tag(image.ref) == "latest":
        return "Always"
    return "IfNotPresent"


@check(
    id="KF-IMG-003",
    name="mutable-tag-not-always-pulled",
    title="Floating image tag with imagePullPolicy IfNotPresent or Never",
    verified="Image is pinned, or pulled on every start (imagePullPolicy Always)",
    severity=Severity.LOW,
    target="container",
    options=FloatingTagOptions,
    mappings=Mappings(
        nsa=("NSA-CISA Kubernetes Hardening Guide: image scanning and supply chain",),
        mitre=("T1525",),
        owasp=("K02",),
        checkov=("CKV_K8S_15",),
        kubescape=("C-0075",),
        polaris=("pullPolicyNotAlways",),
    ),
    remediation="Pin the image to a version tag or digest; while it uses a floating tag, set imagePullPolicy: Always (the API server defaults an unset policy to Always only for latest).",
)
def mutable_tag_not_always_pulled(
    pod: PodView, c: ContainerView, ctx: CheckContext[FloatingTagOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    Flags containers whose image has a floating tag (no tag, `latest`, or another tag of
    KF-IMG-001's list, and no valid digest) and whose effective `imagePullPolicy` is
    `IfNotPresent` or `Never`. An unset policy is read as the API server defaults it
    (`SetDefaults_Container`): `Always` for `latest` or no tag, `IfNotPresent` for every
    other tag, so `app:main` without a policy fails and `app:latest` without one passes.
    Images with a version tag or a valid digest pass whatever the policy, because the
    reference itself decides what runs.

    Peers differ here. Checkov CKV_K8S_15 and Polaris `pullPolicyNotAlways` flag every
    container whose effective policy is not `Always`, version tags included; that is a proxy
    for the cluster-wide concern that a pod may start from an image cached on the node
    without presenting pull credentials, which kubefort leaves to the node and admission
    settings (the `AlwaysPullImages` admission plugin, CIS 1.2.11, or the kubelet's
    `KubeletEnsureSecretPulledImages` feature). Kubescape C-0075 flags the `latest` case.

    ## Options
    - `floating_tags` (list of tags): the tags that count as floating, as for KF-IMG-001
      (same default list; set it for both checks).

    ## Why is this bad?
    With a floating tag and a cached pull policy, what runs depends on which node the pod
    lands on and when that node last pulled the tag: two replicas can run different code, a
    fixed image never reaches nodes that already hold the old one, and an image planted in a
    node's cache (MITRE ATT&CK T1525) is used without the registry being asked.

    ## Example
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:latest
      imagePullPolicy: IfNotPresent
    - name: worker
      image: registry.example.com/worker:main   # unset policy: IfNotPresent
    ```

    ## How to fix
    ```yaml
    containers:
    - name: app
      image: registry.example.com/app:1.4.2@sha256:3b0c2f7e0d4f1a9d2c51f1d0c1e9f7a1b2c3d4e5f60718293a4b5c6d7e8f9012
      imagePullPolicy: IfNotPresent
    ```

    ## Not evaluated when
    The image is missing or not a valid reference, or `imagePullPolicy` is not one of
    `Always`, `IfNotPresent`, `Never` (the API server rejects other values).

    ## References
    - https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy
    - https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#alwayspullimages
    """
    image = container_image(c)
    if image is None:
        return
    policy = c.str("imagePullPolicy")
    if policy is not None and policy not in PULL_POLICIES:
        raise NotEvaluated(
            f"{c.label()}: imagePullPolicy {policy!r} is not one of {', '.join(PULL_POLICIES)}", c.at("imagePullPolicy")
        )
    tag = floating_tag(image, ctx.options.floating_tags)
    if tag is None:
        return
    if policy is None:
        if default_pull_policy(image) == "IfNotPresent":
            yield Violation(
                f"{c.label()} uses image {image.text!r} with {_how(image, tag)} and no imagePullPolicy, "
                "which the API server defaults to IfNotPresent for any tag but 'latest'",
                c.at("image"),
            )
    elif policy != "Always":
        yield Violation(
            f"{c.label()} uses image {image.text!r} with {_how(image, tag)} and imagePullPolicy={policy}",
            c.at("imagePullPolicy"),
        )
