"""Headless Chromium (Debian's `chromium` + `chromium-driver`) driven by Selenium, for the HTML
report: its browser tests, the screenshots (tools/screenshot_history_report.py) and the load-
time benchmark (bench/bench_history.py).

Selenium is given /usr/bin/chromedriver and the chromium binary, so it never runs Selenium
Manager and never downloads a driver or a browser. The browser logs (console messages) and
the performance log (DevTools Network events) are turned on, so a caller can tell console
errors and every request the page made. tools/install-test-chromium.sh installs both packages.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing_reason() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if chromium_binary() is None or not Path(CHROMEDRIVER).is_file():
        return "headless Chromium is not installed: run `bash tools/install-test-chromium.sh` (Debian chromium + chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    return None


@contextmanager
def chromium(width: int = 1440, height: int = 900, *, dark: bool = False) -> Iterator[Any]:
    """A headless Chromium WebDriver with a `width` x `height` viewport; quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = chromium_binary()
    if binary is None:
        raise RuntimeError(missing_reason())
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",  # tests run as root in CI
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(arg)
    if dark:
        opts.add_argument("--force-dark-mode")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    opts.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        set_viewport(driver, width, height)
        if dark:
            driver.execute_cdp_cmd(
                "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
            )
        yield driver
    finally:
        driver.quit()


def set_viewport(driver: Any, width: int, height: int, *, mobile: bool = False, scale: float = 1) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile},
    )


@dataclass
class PageLoad:
    console: list[dict[str, Any]]  # browser log entries
    requests: list[str]  # every URL the page asked for (the document first)
    failed: list[dict[str, Any]]  # Network.loadingFailed events
    rendered_ms: float  # navigation start -> the script's last chart drawn (performance.now())
    wall_s: float  # driver.get() until the page said it was drawn


def load(driver: Any, path: Path, timeout: float = 30.0) -> PageLoad:
    """Open `path` over file://, wait until the report says it is drawn (data-kf-ready), and
    collect what the page logged and requested."""
    driver.get_log("browser")  # drop anything logged before this page
    driver.get_log("performance")
    t0 = time.perf_counter()
    driver.get(path.resolve().as_uri())
    deadline = t0 + timeout
    while driver.execute_script("return document.documentElement.getAttribute('data-kf-ready')") != "1":
        if time.perf_counter() > deadline:
            break
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    rendered = driver.execute_script("return window.kubefortReport ? window.kubefortReport.renderedAt : -1")
    requests: list[str] = []
    failed: list[dict[str, Any]] = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            requests.append(msg["params"]["request"]["url"])
        elif msg["method"] == "Network.loadingFailed":
            failed.append(msg["params"])
    return PageLoad(driver.get_log("browser"), requests, failed, float(rendered), wall)


def full_page_png(driver: Any, width: int, *, mobile: bool = False, scale: float = 1) -> bytes:
    """A screenshot of the whole page at `width` CSS pixels (the viewport grown to its height)."""
    set_viewport(driver, width, 900, mobile=mobile, scale=scale)
    driver.execute_script("window.dispatchEvent(new Event('resize'))")
    time.sleep(0.3)  # the charts redraw for the new width after a short debounce
    height = int(driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)"))
    set_viewport(driver, width, height, mobile=mobile, scale=scale)
    time.sleep(0.2)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    import base64

    return base64.b64decode(shot["data"])


def element_png(
    driver: Any, css: str, *, until: str | None = None, scale: float = 1, max_height: float | None = None
) -> bytes:
    """A screenshot from the top of the element `css` to the bottom of `until` (default: itself),
    at most `max_height` CSS pixels tall."""
    import base64

    box = driver.execute_script(
        "const a = document.querySelector(arguments[0]).getBoundingClientRect();"
        "const b = document.querySelector(arguments[1]).getBoundingClientRect();"
        "return [a.left + scrollX, a.top + scrollY, b.bottom + scrollY];",
        css,
        until or css,
    )
    width = int(driver.execute_script("return document.documentElement.clientWidth"))
    clip = {
        "x": 0,
        "y": max(0, box[1] - 12),
        "width": width,
        "height": min(box[2] - box[1] + 24, max_height or 1e9),
        "scale": scale,
    }
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    return base64.b64decode(shot["data"])
