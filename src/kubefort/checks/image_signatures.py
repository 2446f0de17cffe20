"""KF-IMG-011 to 013: images that must be signed (`image_verification:` in `.kubefort.yaml`,
`kubefort.images.verification`) carry a cosign signature by a trusted key (011), are pinned so
that the signature binds what runs (012), and have the attestations their policy requires (013).

All are off until a policy is configured: a scan without one records none of their outcomes
and contacts no registry. The registry reads happen once per scan unit for all its images, in
parallel (`verify_all`), as data derived from the unit's index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from kubefort.checks.image_scans import NSA, finish, image_uses
from kubefort.checks.images import container_image, normalized_name
from kubefort.images.verification import ImageVerificationOptions, SignaturePolicy, VerificationResult, verify_all
from kubefort.kube.pods import ContainerView, PodView
from kubefort.model import CheckContext, ClusterIndex, NotApplicable, NotEvaluated, Resource, Severity, Violation
from kubefort.registry import Mappings, check

OFF = "off: no signature policy configured (image_verification in .kubefort.yaml)"
# what KF-IMG-011 reads besides the scan's objects: the images' registries (never from a cache of
# the cluster's objects, so admission does not run it: docs/admission.md)
REGISTRY_NEED = "ImageRegistry"


def _results(
    index: ClusterIndex, res_list: Sequence[Resource], ctx: CheckContext[ImageVerificationOptions]
) -> dict[tuple[str, str], VerificationResult]:
    """Every image of the unit under a policy, verified once per unit and options."""
    opts = ctx.options

    def build() -> dict[tuple[str, str], VerificationResult]:
        wanted = set()
        for r in res_list:
            try:
                uses = image_uses(r, ctx.pod_template_paths, [])
            except NotEvaluated:  # a malformed pod spec: the check reports it on that object
                uses = []
            for u in uses:
                name = normalized_name(u.image.ref)
                for ref in u.digests or (u.image.ref.tag or "latest",):
                    wanted.add((name, ref))
        return verify_all(opts, wanted)

    return index.derived(f"image-verification:{opts!r}", build)


def _verdicts(
    res: Resource,
    index: ClusterIndex,
    ctx: CheckContext[ImageVerificationOptions],
    unknown: list[str],
    wanted: Callable[[SignaturePolicy], bool],
) -> Iterator[tuple[Any, str, VerificationResult]]:
    """(container use, the reference shown, its verdict) for every image of the object under a
    policy `wanted` keeps; what could not be verified goes to `unknown`."""
    results = _results(index, index.pod_bearing, ctx)
    for use in image_uses(res, ctx.pod_template_paths, unknown):
        name = normalized_name(use.image.ref)
        policy = ctx.options.policy_for(name)
        if policy is None or not wanted(policy):
            continue
        for ref in use.digests or (use.image.ref.tag or "latest",):
            r = results.get((name, ref))
            if r is None or r.status == "error":
                unknown.append(f"{use.container.label()}: {name}: {r.message if r else 'not verified'}")
            else:
                yield use, (f"{name}@{r.digest}" if r.digest else f"{name}:{ref}"), r


@check(
    id="KF-IMG-011",
    name="image-signature-not-verified",
    title="Image that must be signed has no valid signature by a trusted key",
    verified="Every image under a signature policy is signed by a trusted key",
    severity=Severity.HIGH,
    target="cluster",
    kinds=("@pods",),
    needs=(REGISTRY_NEED,),
    options=ImageVerificationOptions,
    mappings=Mappings(
        cis=("5.5.1",), nsa=NSA, mitre=("T1525", "T1195.002"), owasp=("K02",), kubescape=("C-0236", "C-0237")
    ),
    remediation="Sign the image digest with a trusted key (cosign sign --key ...) in the release pipeline, or deploy the signed digest.",
)
def image_signature_not_verified(
    res: Resource, index: ClusterIndex, ctx: CheckContext[ImageVerificationOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    **Off until a signature policy is configured** (`image_verification:` in `.kubefort.yaml`,
    see docs/images.md): no outcome and no registry access without it.

    For every container (init and ephemeral too) whose image repository a policy names, reads
    the image's cosign signatures from its registry (the `sha256-<digest>.sig` tag and OCI 1.1
    referrers) and checks that one of them is made by one of the policy's public keys over a
    payload naming the image's digest. The digest verified is the pinned one, else the one the
    pod's status says runs, else the one the tag names in the registry now (KF-IMG-012 reports
    that the tag is not pinned). Fails when the image is unsigned, signed by no trusted key (a
    tampered payload too), or signed by a trusted key for another digest.

    ## Options
    Set for both signature checks by `image_verification:`:

    ```yaml
    # .kubefort.yaml
    image_verification:
      policies:
      - images: ["registry.example.com/shop/*"]
        keys: [keys/release.pub]
      ca_file: certs/registry-ca.pem
    ```

    ## Why is this bad?
    A signature by the release pipeline's key is what ties a running image to the build that
    produced it. Without it, an image pushed by whoever obtained write access to the registry, or
    a tag moved to another image, runs as if it were the release (MITRE ATT&CK T1525, Implant
    Internal Image; T1195.002, Compromise Software Supply Chain). The NSA/CISA guide asks for
    signed images verified before deployment.

    ## Example
    ```yaml
    containers:
    - name: web
      image: registry.example.com/shop/web@sha256:1876...   # no signature by keys/release.pub
    ```

    ## How to fix
    Sign the digest in the pipeline that builds it (`cosign sign --key release.key
    registry.example.com/shop/web@sha256:...`) and deploy that digest.

    ## Not applicable when
    KF-IMG-011 is off: no signature policy configured, the default. An object none of whose
    images a policy names passes.

    ## Not evaluated when
    The registry cannot be read (refused, unreachable, an HTML page, a certificate kubefort does
    not trust, a body too large) or `--offline` is given: never a pass without a verified
    signature. An image that is not a valid reference.

    ## References
    - https://docs.sigstore.dev/cosign/verifying/verify/
    - https://kyverno.io/docs/writing-policies/verify-images/sigstore/
    - https://media.defense.gov/2022/Aug/29/2003066362/-1/-1/0/CTR_KUBERNETES_HARDENING_GUIDANCE_1.2_20220829.PDF
    """
    opts = ctx.options
    if opts.off:
        raise NotApplicable(f"KF-IMG-011 is {OFF}")
    unknown: list[str] = []
    violations: list[Violation] = []
    for use, shown, r in _verdicts(res, index, ctx, unknown, lambda p: True):
        if r.status != "verified":
            violations.append(
                Violation(f"{use.container.label()} runs {shown}: {r.message}", use.container.at("image"))
            )
    yield from finish(violations, unknown)


@check(
    id="KF-IMG-012",
    name="signed-image-not-pinned",
    title="Image that must be signed is referenced by a tag, so its signature cannot be bound",
    verified="Every image under a signature policy is pinned by digest",
    severity=Severity.MEDIUM,
    target="container",
    options=ImageVerificationOptions,
    mappings=Mappings(cis=("5.5.1",), nsa=NSA, mitre=("T1525",), owasp=("K02",)),
    remediation="Reference the image by the digest that was signed (repository@sha256:...), as Kyverno's verifyImages mutates it.",
)
def signed_image_not_pinned(
    pod: PodView, c: ContainerView, ctx: CheckContext[ImageVerificationOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    **Off until a signature policy is configured** (`image_verification:`). Flags containers
    (init and ephemeral too) whose image a signature policy names but which reference it by tag,
    without a digest the kubelet accepts. No registry is read, so it also runs at admission.

    ## Why is this bad?
    A signature is over a digest. Verifying a tag checks what the tag names at that moment; the
    node pulls the tag later, and whoever can push to the repository can move it to an unsigned
    image in between. Only a digest binds the signature to what runs (Kyverno's `verifyImages`
    rewrites tags to digests for that reason).

    ## Example
    ```yaml
    image: registry.example.com/shop/web:1.4.2
    ```

    ## How to fix
    ```yaml
    image: registry.example.com/shop/web:1.4.2@sha256:1876f53d...
    ```

    ## Not applicable when
    KF-IMG-012 is off: no signature policy configured, the default.

    ## Not evaluated when
    The image is missing or not a valid reference.

    ## References
    - https://kyverno.io/docs/writing-policies/verify-images/sigstore/#verifying-image-signatures
    - https://docs.sigstore.dev/cosign/signing/signing_with_containers/
    """
    opts = ctx.options
    if opts.off:
        raise NotApplicable(f"KF-IMG-012 is {OFF}")
    image = container_image(c)
    if image is None or image.pinned:
        return
    name = normalized_name(image.ref)
    if opts.policy_for(name) is not None:
        from kubefort.images.inventory import reference_key  # loaded only when a policy applies

        yield Violation(
            f"{c.label()} references {reference_key(image.ref)}, which a signature policy covers, by tag",
            c.at("image"),
        )


@check(
    id="KF-IMG-013",
    name="required-attestation-missing",
    title="Image lacks an attestation its signature policy requires, or it is too old",
    verified="Every image under a signature policy has the attestations it requires",
    severity=Severity.MEDIUM,
    target="cluster",
    kinds=("@pods",),
    needs=(REGISTRY_NEED,),
    options=ImageVerificationOptions,
    mappings=Mappings(cis=("5.5.1",), nsa=NSA, mitre=("T1195.002",), owasp=("K02",)),
    remediation="Attest the image digest in the pipeline (cosign attest --key ... --type slsaprovenance1|vuln) and rescan it on schedule.",
)
def required_attestation_missing(
    res: Resource, index: ClusterIndex, ctx: CheckContext[ImageVerificationOptions]
) -> Iterator[Violation]:
    """
    ## What it does
    **Off until a signature policy requires attestations** (`attestations:` in a policy of
    `image_verification:`). For every container whose image such a policy covers, reads the
    image's cosign attestations (in-toto statements in DSSE envelopes, the `sha256-<digest>.att`
    tag) and checks that each required predicate type is there, signed by one of the policy's
    keys, with a subject naming the image's digest, and, with `max_age_days`, made no longer ago
    than that (the vulnerability predicate's `scanFinishedOn`, SLSA provenance's build finish).

    ```yaml
    image_verification:
      policies:
      - images: ["registry.example.com/shop/*"]
        keys: [keys/release.pub]
        attestations:
        - {type: slsaprovenance1}
        - {type: vuln, max_age_days: 7}
    ```

    ## Why is this bad?
    A signature says who released an image; an attestation says how it was built (SLSA
    provenance: from which source, by which builder) and what a scanner found in it. Without a
    recent scan attestation nobody can tell whether the running digest was checked against
    this week's vulnerabilities (MITRE ATT&CK T1195.002).

    ## Example
    An image signed by the release key, with no `https://slsa.dev/provenance/v1` attestation.

    ## How to fix
    ```sh
    cosign attest --key release.key --type slsaprovenance1 --predicate provenance.json IMAGE@DIGEST
    cosign attest --key release.key --type vuln --predicate trivy-vuln.json IMAGE@DIGEST
    ```

    ## Not applicable when
    KF-IMG-013 is off: no signature policy configured, the default. An object none of whose
    images a policy requiring attestations covers passes.

    ## Not evaluated when
    The registry cannot be read, or `--offline` is given. An image that is not a valid reference.

    ## References
    - https://docs.sigstore.dev/cosign/verifying/attestation/
    - https://slsa.dev/spec/v1.0/provenance
    - https://github.com/in-toto/attestation/blob/main/spec/README.md
    """
    opts = ctx.options
    if opts.off:
        raise NotApplicable(f"KF-IMG-013 is {OFF}")
    if not any(p.attestations for p in opts.policies):
        raise NotApplicable("KF-IMG-013 is off: no signature policy requires attestations")
    unknown: list[str] = []
    violations: list[Violation] = []
    for use, shown, r in _verdicts(res, index, ctx, unknown, lambda p: bool(p.attestations)):
        lacking = [why for _, why in r.attestations if why]
        if lacking:
            violations.append(
                Violation(f"{use.container.label()} runs {shown}: {'; '.join(lacking)}", use.container.at("image"))
            )
    yield from finish(violations, unknown)
