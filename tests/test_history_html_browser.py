"""The HTML report in a real headless Chromium (Debian chromium + chromium-driver through
Selenium, tests/history_browser.py): loaded over file://, it logs nothing to the console,
requests nothing but itself, draws every chart, and its tables sort, filter and page when
clicked and typed into; hostile strings stay text; empty and not-available history says so.

Skips when Chromium is not installed (`bash tools/install-test-chromium.sh`); with
KUBEFORT_REQUIRE_TOOLS=1 (CI) it fails instead."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import history_browser
from conftest import tool_missing
from history_sample import sample_view
from kubefort.history.html import render_bytes

SEVS = ("critical", "high", "medium", "low", "info")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = history_browser.missing_reason()
    if reason:
        tool_missing(reason)
    with history_browser.chromium(1440, 900) as driver:
        yield driver


def open_view(driver: Any, tmp_path: Path, view: dict[str, Any], name: str = "report.html") -> history_browser.PageLoad:
    path = tmp_path / name
    path.write_bytes(render_bytes(view))
    history_browser.set_viewport(driver, 1440, 900)
    page = history_browser.load(driver, path)
    assert driver.execute_script("return document.documentElement.getAttribute('data-kf-ready')") == "1"
    assert page.console == [], page.console
    assert page.requests == [path.resolve().as_uri()]
    assert page.failed == []
    return page


def js(driver: Any, script: str, *args: Any) -> Any:
    return driver.execute_script(script, *args)


def column(driver: Any, index: int, selector: str = "") -> list[str]:
    """The text of column `index` of the findings table's rows (of `selector` inside the cell)."""
    return js(
        driver,
        "return [...document.querySelectorAll('#findings-table tbody tr')].map(tr => {"
        " const td = tr.children[arguments[0]]; const n = arguments[1] ? td.querySelector(arguments[1]) : td;"
        " return n ? n.textContent : ''; })",
        index,
        selector,
    )


def count_text(driver: Any) -> str:
    return str(js(driver, "return document.getElementById('findings-count').textContent"))


def type_filter(driver: Any, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element("id", "findings-filter")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE, text)


def natural(s: str) -> list[Any]:
    """Intl.Collator('en', {numeric: true, sensitivity: 'base'}) order for the IDs used here."""
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", s)]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return sample_view(scans=80, findings=180, seed=11)


@pytest.fixture
def loaded(browser: Any, tmp_path: Path, sample: dict[str, Any]) -> Any:
    open_view(browser, tmp_path, sample)
    return browser


def test_every_chart_draws_its_data(loaded: Any, sample: dict[str, Any]) -> None:
    d = loaded
    counts = js(
        d,
        "const q = s => document.querySelectorAll(s).length; return {"
        " areas: q('#chart-severity svg path.area'), checks: q('#chart-top-checks svg g.bar rect.fill'),"
        " namespaces: q('#chart-top-namespaces svg g.bar rect.fill'), median: q('#chart-ttr svg rect.f-median'),"
        " p90: q('#chart-ttr svg rect.f-p90'), open: q('#chart-flow svg path.s-open'), fixed: q('#chart-flow svg rect.f-fixed'),"
        " pass: q('#chart-frameworks svg rect.f-pass'), fail: q('#chart-frameworks svg rect.f-fail'),"
        " ne: q('#chart-frameworks svg rect.f-na'), sparks: q('#metrics-table svg.spark path.spark-line'),"
        " errors: q('.render-error') }",
    )
    scans = sample["scans"]
    ttr = sample["ttr"]
    assert counts == {
        "areas": sum(1 for s in SEVS if any(x["failed_by_severity"][s] for x in scans)),
        "checks": len(sample["top_checks"]),
        "namespaces": len(sample["top_namespaces"]),
        "median": sum(1 for v in ttr["by_severity"].values() if v["median_s"] is not None),
        "p90": sum(1 for v in ttr["by_severity"].values() if v["p90_s"] is not None),
        "open": 1,
        "fixed": sum(1 for _, n in ttr["fixed_per_day"] if n > 0),
        "pass": sum(1 for f in sample["frameworks"] if f["passing"]),
        "fail": sum(1 for f in sample["frameworks"] if f["failing"]),
        "ne": sum(1 for f in sample["frameworks"] if f["not_evaluated"]),
        "sparks": sum(1 for m in sample["metrics"] if m["available"] and len(m["trend"]) > 1),
        "errors": 0,
    }
    # every chart has a visible, non-empty drawing
    sizes = js(
        d,
        "return [...document.querySelectorAll('.chart')].map(c => { const s = c.querySelector('svg');"
        " const r = s ? s.getBoundingClientRect() : {width: 0, height: 0};"
        " return [c.id, r.width, r.height, s ? s.querySelectorAll('path,rect,circle,line').length : 0]; })",
    )
    for chart_id, w, h, shapes in sizes:
        assert w > 200 and h > 40 and shapes > 0, chart_id


def test_a_capped_list_keeps_the_totals_and_says_what_it_left_out(
    browser: Any, tmp_path: Path, sample: dict[str, Any]
) -> None:
    # `report html --max-findings 30`: the view lists the first 30, its totals count all 180
    view = {**sample, "open_findings": sample["open_findings"][:30]}
    view["open_totals"] = {**sample["open_totals"], "listed": 30}
    open_view(browser, tmp_path, view)
    cards = js(
        browser,
        "return Object.fromEntries([...document.querySelectorAll('#summary-cards .card')]"
        ".map(c => [c.querySelector('.k').textContent, c.querySelector('.v').textContent]))",
    )
    totals = sample["open_totals"]
    assert cards["Open findings"] == "180"
    assert {s: cards[s] for s in SEVS[:4]} == {s: f"{totals['by_severity'][s]:,}" for s in SEVS[:4]}
    assert count_text(browser).startswith("30 of 30 open findings listed (the 30 most severe and oldest of 180")


def test_the_stacked_severity_chart_reads_out_the_latest_totals(loaded: Any, sample: dict[str, Any]) -> None:
    latest: dict[str, dict[str, int]] = {}
    for s in sample["scans"]:
        latest[s["target"]] = s["failed_by_severity"]
    totals = {sev: sum(v[sev] for v in latest.values()) for sev in SEVS}
    text = js(loaded, "return document.querySelector('#chart-severity .readout').textContent")
    assert f"— {sum(totals.values()):,} open: " in text
    assert " · ".join(f"{sev} {n:,}" for sev, n in totals.items()) in text


def test_not_available_metrics_say_so_with_the_reason(loaded: Any, sample: dict[str, Any]) -> None:
    cells = js(
        loaded,
        "return [...document.querySelectorAll('#metrics-table tbody tr')].map(tr => [tr.children[0].textContent, tr.children[1].textContent])",
    )
    by_title = {m["title"]: m for m in sample["metrics"]}
    assert len(cells) == len(sample["metrics"])
    for title_cell, value_cell in cells:
        m = next(v for t, v in by_title.items() if title_cell.startswith(t))
        if m["available"]:
            assert "not available" not in value_cell
        else:
            assert value_cell == "not available" + m["reason"]
            assert not re.search(r"\d", value_cell.replace(m["reason"], ""))


def test_findings_sort_by_each_column(loaded: Any, sample: dict[str, Any]) -> None:
    d = loaded
    findings = sample["open_findings"]
    rank = {s: i for i, s in enumerate(SEVS)}
    # default: most severe first
    assert column(d, 0) == [f["severity"] for f in sorted(findings, key=lambda f: rank[f["severity"]])][:50]
    d.find_element("css selector", "#findings-table th button[data-col='check']").click()
    assert column(d, 1, ".mono") == sorted((f["check_id"] for f in findings), key=natural)[:50]
    assert (
        js(d, "return document.querySelector(\"#findings-table th:nth-child(2)\").getAttribute('aria-sort')")
        == "ascending"
    )
    d.find_element("css selector", "#findings-table th button[data-col='check']").click()
    assert column(d, 1, ".mono") == sorted((f["check_id"] for f in findings), key=natural, reverse=True)[:50]
    assert (
        js(d, "return document.querySelector(\"#findings-table th:nth-child(2)\").getAttribute('aria-sort')")
        == "descending"
    )
    d.find_element("css selector", "#findings-table th button[data-col='first_seen']").click()
    oldest = sorted(findings, key=lambda f: f["first_seen_at"])[:50]
    assert column(d, 5, "span") == [history_date(f["first_seen_at"]) + age_text(f["age_s"]) for f in oldest]
    d.find_element("css selector", "#findings-table th button[data-col='message']").click()
    shown = column(d, 3)
    assert shown == sorted(shown, key=str.lower) and set(shown) <= {f["message"] for f in findings}


def history_date(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(t))


def age_text(s: float) -> str:
    s = round(s)
    if s < 90:
        return f"{s} s open"
    if s < 5400:
        return f"{round(s / 60)} min open"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h open"
    return f"{s / 86400:.{1 if s < 10 * 86400 else 0}f} d open"


def test_findings_filter_by_text_field_and_severity(loaded: Any, sample: dict[str, Any]) -> None:
    d = loaded
    findings = sample["open_findings"]
    check = sample["top_checks"][0]["check_id"]
    type_filter(d, check.lower())
    want = [f for f in findings if any(check.lower() in str(v).lower() for v in flat(f))]
    assert count_text(d).startswith(f"{len(want)} of {len(findings)} open findings")
    assert len(want) >= sample["top_checks"][0]["open"]
    assert set(column(d, 1, ".mono")) <= {f["check_id"] for f in want}
    # field-qualified: the namespace alone, not the same word elsewhere
    ns = sample["top_namespaces"][0]["namespace"]
    type_filter(d, f"ns:{ns}")
    assert count_text(d).startswith(f"{sample['top_namespaces'][0]['open']} of ")
    # two words: both must match
    type_filter(d, f"ns:{ns} {check}")
    both = [f for f in findings if f["resource"]["namespace"] == ns and f["check_id"] == check]
    assert count_text(d).startswith(f"{len(both)} of ")
    type_filter(d, "no-such-thing-anywhere")
    assert column(d, 0) == ["No open finding matches the filter."]
    # severity toggles
    type_filter(d, "")
    for sev in ("critical", "high"):
        d.find_element("css selector", f"#findings-sevs label.sev-{sev}").click()
    rest = [f for f in findings if f["severity"] not in ("critical", "high")]
    assert count_text(d).startswith(f"{len(rest)} of {len(findings)}")
    assert set(column(d, 0)) <= {"medium", "low", "info"}
    d.find_element("css selector", "#findings-count button").click()  # clear filter
    assert count_text(d) == f"{len(findings)} of {len(findings)} open findings"


def flat(f: dict[str, Any]) -> list[Any]:
    r = f["resource"]
    return [
        f["check_id"],
        f["check_name"],
        f["severity"],
        f["target"],
        r["kind"],
        r["namespace"],
        r["name"],
        f["where"],
        f["message"],
        f["remediation"],
        f["fingerprint"],
    ]


def test_findings_pages(loaded: Any, sample: dict[str, Any]) -> None:
    d = loaded
    n = len(sample["open_findings"])
    pager = d.find_element("id", "findings-pager")
    assert pager.text.startswith(f"1–50 of {n}")
    first = column(d, 2)
    pager.find_elements("tag name", "button")[1].click()
    assert d.find_element("id", "findings-pager").text.startswith(f"51–100 of {n}")
    assert len(column(d, 2)) == 50 and column(d, 2) != first


def test_clicking_a_top_check_lists_its_findings(loaded: Any, sample: dict[str, Any]) -> None:
    d = loaded
    top = sample["top_checks"][0]
    d.find_element("css selector", "#chart-top-checks g.bar rect.fill").click()
    assert d.find_element("id", "findings-filter").get_attribute("value") == f"check:{top['check_id']}"
    assert count_text(d).startswith(f"{top['open']} of ")
    assert set(column(d, 1, ".mono")) == {top["check_id"]}


def test_scans_table_sorts_and_filters(loaded: Any, sample: dict[str, Any]) -> None:
    d = loaded
    scans = sample["scans"]
    first = js(d, "return document.querySelector('#scans-table tbody tr td:last-child').textContent")
    assert first == max(scans, key=lambda s: s["finished_at"])["uid"][:12]  # newest first
    d.find_element("css selector", "#scans-table th button[data-col='critical']").click()
    crit = js(
        d, "return [...document.querySelectorAll('#scans-table tbody tr')].map(tr => +tr.children[3].textContent)"
    )
    assert crit == sorted((s["failed_by_severity"]["critical"] for s in scans), reverse=True)[:25]
    box = d.find_element("id", "scans-filter")
    box.send_keys("staging")
    n = sum(1 for s in scans if "staging" in s["target"])
    assert d.find_element("id", "scans-count").text == f"{n} of {len(scans)} scans"


def test_hostile_strings_stay_text(browser: Any, tmp_path: Path) -> None:
    from test_history_html import HOSTILE, hostile

    text = "".join(HOSTILE)
    view = hostile(sample_view(scans=6, findings=12, seed=4), text)
    view["target"] = text
    open_view(browser, tmp_path, view)
    d = browser
    assert js(d, "return window.__pwned === undefined")
    assert js(d, "return document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert js(d, "return document.scripts.length") == 2
    assert column(d, 3)[0].endswith(text)  # the message, as text
    # the HTML parser drops a NUL character in the page's text, as every browser must
    assert js(d, "return document.getElementById('fact-target').textContent") == text.replace("\x00", "")


def test_empty_history_says_so(browser: Any, tmp_path: Path) -> None:
    view = {
        "generated_at": 1_700_000_000.0,
        "since": None,
        "store": "sqlite:////tmp/h.db",
        "target": None,
        "targets": [],
        "scans": [],
        "metrics": [],
        "ttr": {"by_severity": {}, "fixed_per_day": [], "open_per_day": []},
        "frameworks": [],
        "top_checks": [],
        "top_namespaces": [],
        "open_findings": [],
    }
    open_view(browser, tmp_path, view)
    notes = js(
        browser,
        "return Object.fromEntries([...document.querySelectorAll('.chart, #metrics-table')].map(c => [c.id, c.textContent]))",
    )
    assert notes == {
        "metrics-table": "No metrics were computed for this history.",
        "chart-severity": "No scans in this period.",
        "chart-top-checks": "No open findings.",
        "chart-top-namespaces": "No open findings.",
        "chart-ttr": "No finding has been fixed yet: time to remediate is not available.",
        "chart-flow": "No daily history in this period.",
        "chart-frameworks": "No framework mappings were evaluated.",
    }
    assert column(browser, 0) == ["No open findings."]
    assert count_text(browser) == "0 of 0 open findings"


def test_narrow_screen_has_no_horizontal_scroll(browser: Any, tmp_path: Path, sample: dict[str, Any]) -> None:
    open_view(browser, tmp_path, sample)
    history_browser.set_viewport(browser, 390, 844, mobile=True)
    js(browser, "window.dispatchEvent(new Event('resize'))")
    import time

    time.sleep(0.4)
    assert js(browser, "return document.documentElement.scrollWidth") <= 390
    widths = js(
        browser, "return [...document.querySelectorAll('.chart svg')].map(s => s.getBoundingClientRect().width)"
    )
    assert widths and all(100 < w <= 370 for w in widths)
    assert browser.get_log("browser") == []


@pytest.mark.slow
def test_a_large_history_opens_in_under_2_seconds(browser: Any, tmp_path: Path) -> None:
    # the target: 1,000 scans of a 10,000-finding target, navigation start to charts drawn
    page = open_view(browser, tmp_path, sample_view(scans=1_000, findings=10_000, seed=7))
    assert 0 < page.rendered_ms < 2_000
    assert js(browser, "return window.kubefortReport.findings") == 10_000


def test_a_real_stores_report_draws_cleanly(browser: Any, tmp_path: Path) -> None:
    """The page of a real store's view (kubefort.history.view.build_view of three recorded scans)."""
    from test_history_html import page_data, record_history, run_html

    url = f"sqlite:///{tmp_path / 'h.db'}"
    record_history(tmp_path, url)
    out = tmp_path / "real.html"
    assert run_html("--store", url, "--since", "all", "-o", str(out)).exit_code == 0
    history_browser.set_viewport(browser, 1440, 900)
    page = history_browser.load(browser, out)
    assert page.console == [] and page.failed == [] and page.requests == [out.resolve().as_uri()]
    from test_history_html import Page

    data = page_data(Page(out.read_text(encoding="utf-8")))
    assert js(browser, "return document.querySelectorAll('.render-error').length") == 0
    assert js(browser, "return document.querySelectorAll('#chart-severity path.area').length") == 1  # critical only
    assert column(browser, 1, ".mono") == ["KF-POD-001", "KF-POD-001"]
    shown = js(browser, "return document.querySelectorAll('#metrics-table tbody tr').length")
    assert shown == len(data["metrics"])
