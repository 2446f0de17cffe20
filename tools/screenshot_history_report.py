"""Screenshots of `kubefort report html` for docs/img/history-report-*.png.

Renders the sample history of tests/history_sample.py (a repository, two clusters and a node
over 90 days) and photographs it in headless Chromium (tests/history_browser.py) at a desktop
width (1440 px, light and dark) and a phone width (390 px):

    .venv/bin/python tools/screenshot_history_report.py [OUT_DIR]    # default: docs/img

Needs Debian's chromium and chromium-driver (bash tools/install-test-chromium.sh).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import history_browser  # noqa: E402
from history_sample import sample_view  # noqa: E402
from kubefort.history.html import render_bytes  # noqa: E402

# (file name, width, dark, first element, last element, most CSS pixels tall)
SHOTS = (
    ("history-report-1440-overview.png", 1440, False, ".page-head", "#top", None),
    ("history-report-1440-remediation.png", 1440, False, "#ttr", "#frameworks", None),
    ("history-report-1440-findings.png", 1440, False, "#findings", "#findings", 1100),
    ("history-report-1440-dark.png", 1440, True, ".page-head", "#severity", None),
    ("history-report-390.png", 390, False, ".page-head", "#severity", None),
    ("history-report-390-findings.png", 390, False, "#findings", "#findings", 1300),
)


def main(out_dir: Path) -> None:
    reason = history_browser.missing_reason()
    if reason:
        sys.exit(f"screenshot_history_report: {reason}")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_bytes(render_bytes(sample_view(scans=120, findings=400, seed=1)))
        for name, width, dark, first, last, max_height in SHOTS:
            mobile = width < 800
            with history_browser.chromium(width, 900, dark=dark) as driver:
                history_browser.set_viewport(driver, width, 900, mobile=mobile)
                loaded = history_browser.load(driver, page)
                if loaded.console or loaded.failed:
                    sys.exit(f"screenshot_history_report: the page logged {loaded.console} / failed {loaded.failed}")
                history_browser.full_page_png(driver, width, mobile=mobile)  # lay the page out at its full height
                png = history_browser.element_png(driver, first, until=last, max_height=max_height)
            (out_dir / name).write_bytes(png)
            print(f"{out_dir / name}: {len(png) / 1024:.0f} KiB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img")
