"""Benchmark: the image inventory of ../shared/corpus/bench, and mapping scans onto images.

Usage: .venv/bin/python bench/bench_images.py [CORPUS] [--images 1000] [--vulns 50]

1. Loads every manifest of the corpus (as `kubefort images PATH` does), then times
   `build_inventory` alone and prints images, workloads and the time. A missing corpus is
   skipped with a message (it lives in ../shared beside the checkout).
2. Builds N synthetic Trivy reports of M vulnerabilities each (N distinct images), reads them
   back through `read_document`, indexes them and matches every image (half by digest, half by
   tag), timing each step: the cost of `kubefort images --scans` and of the KF-IMG scan checks.
Prints figures; never a timed test.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kubefort.images.inventory import build_inventory
from kubefort.images.scandata import ScanIndex
from kubefort.images.vulns import read_document
from kubefort.loaders.manifests import load_resources

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent.parent / "shared" / "corpus" / "bench"
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")


def bench_corpus(root: Path) -> None:
    if not root.is_dir():
        print(f"corpus not found: {root} (it lives in ../shared beside the checkout): inventory skipped")
        return
    t0 = time.perf_counter()
    resources, problems, _ = load_resources([str(root)], render_dirs=False)
    t1 = time.perf_counter()
    inv = build_inventory(resources)
    t2 = time.perf_counter()
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    uses = sum(len(e.workloads) for e in inv.images.values())
    print(f"corpus: {root} ({size / 1e6:.1f} MB, {len(resources):,} objects, {len(problems):,} load problems)")
    print(f"load: {t1 - t0:.2f} s   inventory: {t2 - t1:.3f} s   ({len(resources) / (t2 - t1):,.0f} objects/s)")
    print(f"images: {len(inv.images):,} distinct, {len(inv.invalid):,} invalid, {uses:,} workload containers")


def _report(i: int, vulns: int) -> dict[str, object]:
    digest = f"sha256:{i:064x}"
    return {
        "SchemaVersion": 2,
        "CreatedAt": "2025-01-01T00:00:00Z",
        "ArtifactName": f"registry.example.com/team{i % 37}/app{i}:1.{i % 10}",
        "Metadata": {"RepoDigests": [f"registry.example.com/team{i % 37}/app{i}@{digest}"]},
        "Results": [
            {
                "Target": "os",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": f"CVE-2024-{i * vulns + k}",
                        "PkgName": f"pkg{k}",
                        "InstalledVersion": "1.0",
                        "FixedVersion": "1.1" if k % 2 else "",
                        "Severity": SEVERITIES[k % 4],
                        "PublishedDate": "2024-01-01T00:00:00Z",
                    }
                    for k in range(vulns)
                ],
            }
        ],
    }


def bench_mapping(n: int, vulns: int) -> None:
    docs = [_report(i, vulns) for i in range(n)]
    t0 = time.perf_counter()
    scans = [s for i, d in enumerate(docs) for s in read_document(d, f"report-{i}.json")]
    t1 = time.perf_counter()
    index = ScanIndex(scans)
    t2 = time.perf_counter()
    found = 0
    for i in range(n):
        repo = f"registry.example.com/team{i % 37}/app{i}"
        digests = [f"sha256:{i:064x}"] if i % 2 else []
        scan = index.find(repo, f"1.{i % 10}", digests)
        if scan is not None and sum(scan.counts().values()) == vulns:
            found += 1
    t3 = time.perf_counter()
    assert found == n, (found, n)
    print(
        f"mapping {n:,} images x {vulns} vulns: read {t1 - t0:.3f} s, index {t2 - t1:.4f} s, "
        f"match + count {t3 - t2:.4f} s ({found:,} matched)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT))
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--vulns", type=int, default=50)
    a = ap.parse_args()
    bench_corpus(Path(a.corpus))
    bench_mapping(a.images, a.vulns)


if __name__ == "__main__":
    main()
