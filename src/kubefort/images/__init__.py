"""Container images: what runs where, and what scanners found in it (`kubefort images`).

| module | role |
|---|---|
| `inventory.py` | every image reference of every workload, normalised as the runtime pulls it, with the workloads using it and, for cluster input, the digests its pods run (`status.containerStatuses[].imageID`) |
| `vulns.py` | scanner output (Trivy JSON, Grype JSON, CycloneDX 1.4-1.6 with VEX, trivy-operator VulnerabilityReports) read into one model, bounded and with clear errors |
| `scandata.py` | how scan results reach the KF-IMG scan checks: `image_scans:` in `.kubefort.yaml` (files) and the VulnerabilityReport objects of the scanned input, matched to images |
| `oci.py` | a small OCI distribution client (manifests, blobs, referrers; registry auth; bounded reads) |
| `cosign.py` | cosign key-pair signatures: found in the registry, verified against trusted public keys |
| `verification.py` | the signature policy (`image_verification:` in `.kubefort.yaml`) and the verification of a scan unit's images (parallel, cached), for KF-IMG-011/012 |

An inventory entry carries no verification field yet (docs/images.md, "Not built yet").
"""

# the severities of the vulnerability model, most severe first (vulns.py, the KF-IMG scan checks'
# options): here so that checking options does not import the scanner readers
SEVERITIES = ("critical", "high", "medium", "low", "unknown")

# `cosign attest --type` names and the in-toto predicate types they write, preferred name first
# for each type (the signature policy's config and cosign.py's attestation reader share it)
PREDICATE_TYPES = {
    "slsaprovenance": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
    "spdxjson": "https://spdx.dev/Document",
    "cyclonedx": "https://cyclonedx.org/bom",
    "vuln": "https://cosign.sigstore.dev/attestation/vuln/v1",
    "link": "https://in-toto.io/Link/v1",
    "custom": "https://cosign.sigstore.dev/attestation/v1",
    "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
    "spdx": "https://spdx.dev/Document",
}
