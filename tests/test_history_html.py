"""`kubefort report html` rendering (kubefort.history.html), without a browser: the embedded JSON
is safe inside <script> and reads back as the view, hostile strings in every field stay data,
the page loads nothing from outside and runs only its own script, empty and not-available
history renders, and the file for the issue's large history stays under 5 MB. What the page
draws is tested in headless Chromium (test_history_html_browser.py)."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from history_db import postgres, store_url  # noqa: F401 - fixtures
from history_sample import sample_view
from kubefort.history import html

HOSTILE = (
    "<script>window.__pwned=1</script>",
    "</script><script>window.__pwned=2</script>",
    "<img src=x onerror=window.__pwned=3>",
    '" onmouseover="window.__pwned=4',
    "' onfocus='window.__pwned=5",
    "<!--",
    "]]>",
    "&amp;&lt;&#x3c;",
    "\u2028\u2029",
    "{{ 7*7 }}{% raw %}",
    "</style></title></textarea>",
    "javascript:alert(1)",
    "\x00\ud7ff\U0001f600",
)
hostile_text = st.lists(st.sampled_from(HOSTILE) | st.text(max_size=8), min_size=1, max_size=4).map("".join)


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | hostile_text
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
        max_leaves=20,
    )


class Page(HTMLParser):
    """The parts of the page the tests look at: scripts (attributes and text), styles, meta
    tags, every src/href, the text of elements by id."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.styles: list[str] = []
        self.metas: list[dict[str, str | None]] = []
        self.urls: list[str] = []
        self.title = ""
        self.ids: dict[str, str] = {}
        self._open: list[tuple[str, dict[str, str | None]]] = []
        self._text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta":
            self.metas.append(a)
            return
        if tag in ("link", "img"):
            self.urls += [v or "" for k, v in attrs if k in ("href", "src")]
            return
        self.urls += [v or "" for k, v in attrs if k in ("href", "src")]
        self._open.append((tag, a))
        self._text.append("")

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            t, a = self._open.pop()
            text = self._text.pop()
            if self._text:
                self._text[-1] += text
            if t == "script":
                self.scripts.append((a, text))
            elif t == "style":
                self.styles.append(text)
            elif t == "title":
                self.title = text
            if a.get("id"):
                self.ids[str(a["id"])] = text
            if t == tag:
                return

    def handle_data(self, data: str) -> None:
        if self._text:
            self._text[-1] += data


def decode_findings(c: dict[str, Any]) -> list[dict[str, Any]]:
    """The page script's decoding of html.compact_findings, in Python."""
    out = []
    for row in c["rows"]:
        f = {
            k: (c["strings"][v] if k in c["interned"] and v is not None else v)
            for k, v in zip(c["columns"], row, strict=True)
        }
        out.append(f)
    return out


def expected_finding(f: dict[str, Any]) -> dict[str, Any]:
    r = f.get("resource") or {}
    return {
        "fingerprint": f["fingerprint"],
        "target": f["target"],
        "check_id": f["check_id"],
        "check_name": f["check_name"],
        "severity": f["severity"],
        "api_version": r.get("apiVersion"),
        "kind": r.get("kind"),
        "namespace": r.get("namespace"),
        "name": r.get("name"),
        "where": f["where"],
        "message": f["message"],
        "remediation": f["remediation"],
        "first_seen_at": round(f["first_seen_at"]),
        "age_s": round(f["age_s"]),
    }


def page_data(page: Page) -> dict[str, Any]:
    blocks = [text for attrs, text in page.scripts if attrs.get("type") == "application/json"]
    assert len(blocks) == 1
    return orjson.loads(blocks[0])


def hostile(view: Any, text: str) -> Any:
    """`view` with every string (values and keys) replaced by a hostile one built from it."""
    if isinstance(view, str):
        return view + text
    if isinstance(view, list):
        return [hostile(v, text) for v in view]
    if isinstance(view, dict):
        return {hostile(k, text) if k not in TOP_KEYS else k: hostile(v, text) for k, v in view.items()}
    return view


TOP_KEYS = set(sample_view(scans=1, findings=1)) | {
    "fingerprint", "target", "check_id", "check_name", "severity", "resource", "where", "message",
    "remediation", "first_seen_at", "age_s", "apiVersion", "kind", "namespace", "name", "uid",
    "finished_at", "complete", "outcomes", "failed_by_severity", "title", "value", "unit", "available",
    "reason", "partial", "definition", "checks", "trend", "by_severity", "fixed_per_day",
    "open_per_day", "framework", "controls", "passing", "failing", "not_evaluated", "not_covered",
    "share_passing", "detail", "control", "state", "open", "key", "labels", "median_s", "p90_s", "count",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# embed_json
# ---------------------------------------------------------------------------------------------
@settings(max_examples=300)
@given(json_values())
def test_embedded_json_has_nothing_a_script_element_reads_and_reads_back_the_same(data: Any) -> None:
    text = html.embed_json(data)
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert orjson.loads(text) == data


def test_embedded_json_escapes_each_dangerous_character_as_a_json_escape() -> None:
    assert html.embed_json("</script><!--&\u2028\u2029") == '"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\\u2029"'


# ---------------------------------------------------------------------------------------------
# compact findings
# ---------------------------------------------------------------------------------------------
finding = st.fixed_dictionaries(
    {
        "fingerprint": hostile_text,
        "target": st.sampled_from(["repo:a", "cluster:b", "</script>"]),
        "check_id": st.sampled_from(["KF-POD-001", "KF-RBAC-002", "<b>"]),
        "check_name": hostile_text,
        "severity": st.sampled_from(["critical", "high", "medium", "low", "info", "<script>"]),
        "resource": st.fixed_dictionaries(
            {
                "apiVersion": st.sampled_from(["apps/v1", "v1"]),
                "kind": hostile_text,
                "namespace": st.none() | hostile_text,
                "name": hostile_text,
            }
        ),
        "where": hostile_text,
        "message": hostile_text,
        "remediation": st.none() | hostile_text,
        "first_seen_at": st.floats(0, 2e9),
        "age_s": st.floats(0, 1e9),
    }
)


@settings(max_examples=150)
@given(st.lists(finding, max_size=30))
def test_compact_findings_decode_to_every_field_of_every_finding(findings: list[dict[str, Any]]) -> None:
    c = html.compact_findings(findings)
    assert decode_findings(c) == [expected_finding(f) for f in findings]
    assert len(c["strings"]) == len(set(c["strings"]))  # each repeated string is stored once


def test_repeated_fixes_are_stored_once() -> None:
    view = sample_view(scans=2, findings=500, seed=3)
    c = html.compact_findings(view["open_findings"])
    fixes = {f["remediation"] for f in view["open_findings"]}
    assert sum(1 for s in c["strings"] if s in fixes) == len(fixes)


# ---------------------------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------------------------
def csp_of(page: Page) -> dict[str, list[str]]:
    metas = [m for m in page.metas if (m.get("http-equiv") or "").lower() == "content-security-policy"]
    assert len(metas) == 1
    out = {}
    for part in str(metas[0]["content"]).split(";"):
        name, *values = part.split()
        out[name] = values
    return out


def sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_page_runs_only_its_own_script_and_loads_nothing() -> None:
    page = Page(html.render(sample_view()))
    csp = csp_of(page)
    assert csp["default-src"] == ["'none'"]
    scripts = [text for attrs, text in page.scripts if "type" not in attrs]
    assert len(scripts) == 1
    assert csp["script-src"] == [sha256_source(scripts[0])]
    assert len(page.styles) == 1
    assert csp["style-src"] == [sha256_source(page.styles[0])]
    assert csp["img-src"] == ["data:"]
    assert page.urls and all(u.startswith(("#", "data:")) for u in page.urls)


@pytest.mark.parametrize("asset", ["report.js", "report.css"])
def test_inlined_assets_cannot_close_their_element(asset: str) -> None:
    text = resources.files("kubefort.history").joinpath("templates", asset).read_text(encoding="utf-8")
    assert not re.search(r"</(script|style)|<!--|<script", text, re.IGNORECASE)
    text = text.replace('"http://www.w3.org/2000/svg"', "")  # the SVG namespace name, never fetched
    assert "http://" not in text and "https://" not in text and "@import" not in text and "url(" not in text


def test_page_data_is_the_view() -> None:
    view = sample_view(scans=30, findings=80, seed=5)
    data = page_data(Page(html.render(view)))
    assert decode_findings(data.pop("open_findings")) == [expected_finding(f) for f in view["open_findings"]]
    assert data == {k: v for k, v in view.items() if k != "open_findings"}


@settings(max_examples=25, deadline=None)
@given(hostile_text)
def test_hostile_strings_in_every_field_stay_data(text: str) -> None:
    view = hostile(sample_view(scans=4, findings=6, seed=2), text)
    view["target"] = "cluster:" + text
    rendered = html.render(view)
    page = Page(rendered)
    # exactly the page's two script elements, whatever the strings held
    assert [attrs.get("type") for attrs, _ in page.scripts] == ["application/json", None]
    assert len(re.findall(r"<script\b", rendered, re.IGNORECASE)) == 2
    data = page_data(page)
    assert decode_findings(data.pop("open_findings")) == [expected_finding(f) for f in view["open_findings"]]
    assert data == {k: v for k, v in view.items() if k != "open_findings"}
    # the template's own text (autoescaped) reads back as the strings themselves
    assert page.ids["fact-target"] == view["target"]
    assert page.title == f"kubefort posture report — {view['target']}"
    assert page.ids["fact-store"] == view["store"]


def test_hostile_template_fields_are_escaped() -> None:
    view = sample_view(scans=1, findings=1)
    view["target"] = "<script>alert(1)</script>"
    view["store"] = '"><img src=x onerror=alert(2)>'
    rendered = html.render(view)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in rendered
    assert "<img" not in rendered


def test_empty_history_renders() -> None:
    view = {
        "generated_at": 1_700_000_000.0,
        "since": None,
        "store": "sqlite:///tmp/h.db",
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
    page = Page(html.render(view))
    data = page_data(page)
    assert data["open_findings"] == {
        "columns": list(html.FINDING_COLUMNS),
        "interned": sorted(html.INTERNED),
        "strings": [],
        "rows": [],
    }
    assert page.ids["fact-target"] == "all targets (0)"
    assert page.title == "kubefort posture report"


def test_missing_optional_keys_render_as_not_recorded() -> None:
    page = Page(html.render({}))
    assert page.ids["fact-target"] == "all targets (0)"
    assert page.ids["fact-period"] == "all history"
    assert page.ids["fact-scans"] == "0"
    assert page.ids["fact-store"] == "not recorded"
    assert page.ids["fact-generated"] == "not recorded"
    assert page_data(page)["open_findings"]["rows"] == []


def test_header_facts() -> None:
    view = sample_view(scans=12, findings=2)
    view["target"] = "cluster:prod"
    page = Page(html.render(view))
    assert page.ids["fact-target"] == "cluster:prod"
    assert page.ids["fact-period"] == "since 2025-10-03 00:00 UTC"
    assert page.ids["fact-scans"] == "12"
    assert page.ids["fact-store"] == view["store"]
    assert page.ids["fact-generated"] == "2026-01-01 00:00 UTC"


def test_not_available_metrics_keep_their_reason_and_no_value() -> None:
    view = sample_view(scans=3, findings=3)
    na = [m for m in view["metrics"] if not m["available"]]
    assert na
    shown = {m["name"]: m for m in page_data(Page(html.render(view)))["metrics"]}
    for m in na:
        assert shown[m["name"]]["available"] is False
        assert shown[m["name"]]["value"] is None
        assert shown[m["name"]]["reason"] == m["reason"]


def test_a_large_history_stays_under_5_mb() -> None:
    # the size target: 1,000 scans of a 10,000-finding target
    view = sample_view(scans=1_000, findings=10_000, seed=7)
    size = len(html.render_bytes(view))
    assert size < 5 * 1024 * 1024, f"{size / 1e6:.2f} MB"


def test_rendering_does_not_change_the_view() -> None:
    view = sample_view(scans=5, findings=5)
    before = copy.deepcopy(view)
    html.render(view)
    assert view == before


# ---------------------------------------------------------------------------------------------
# `kubefort report html` on a real store (SQLite and PostgreSQL)
# ---------------------------------------------------------------------------------------------
T0 = 1_750_000_000.0
DAY = 86_400.0


def privileged_pod(name: str, privileged: bool) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {
            "containers": [
                {"name": "app", "image": "shop@sha256:" + "a" * 64, "securityContext": {"privileged": privileged}}
            ]
        },
    }


def record_history(tmp_path: Path, url: str) -> None:
    """repo:shop scanned three times: two privileged pods, then one fixed, then a third added."""
    import yaml

    from kubefort.drivers.manifests import scan
    from kubefort.engine import EngineSettings
    from kubefort.history.store import Store
    from kubefort.history.target import TargetLabel
    from kubefort.loaders.manifests import discover
    from kubefort.registry import load_builtin_checks

    reg = load_builtin_checks()
    target = TargetLabel("repo:shop", "repo")
    states = [("a", "b"), ("b",), ("b", "c")]
    with Store.open(url) as store:
        for i, privileged in enumerate(states):
            d = tmp_path / "repo"
            d.mkdir(exist_ok=True)
            docs = [privileged_pod(n, n in privileged) for n in ("a", "b", "c")]
            (d / "pods.yaml").write_text(yaml.safe_dump_all(docs))
            result = scan(discover([str(d)]), EngineSettings(check_ids=("KF-POD-001",), keep_passed=False), jobs=1)
            result.finished_at = T0 + i * DAY
            store.record(result, reg, kind="manifests", target=target)


def load_builtin_checks() -> Any:
    from kubefort.registry import load_builtin_checks as load

    return load()


def run_html(*args: str) -> Any:
    from click.testing import CliRunner

    from kubefort.cli import cli

    return CliRunner().invoke(cli, ["report", "html", *args], catch_exceptions=False)


def test_report_html_writes_the_stores_history(tmp_path: Path, store_url: str) -> None:  # noqa: F811
    record_history(tmp_path, store_url)
    out = tmp_path / "report.html"
    res = run_html("--store", store_url, "--since", "all", "-o", str(out))
    assert res.exit_code == 0, res.output
    data = page_data(Page(out.read_text(encoding="utf-8")))
    assert [s["finished_at"] for s in data["scans"]] == [T0, T0 + DAY, T0 + 2 * DAY]
    assert [s["failed_by_severity"].get("critical") for s in data["scans"]] == [2, 1, 2]
    findings = decode_findings(data["open_findings"])
    pods = tmp_path / "repo" / "pods.yaml"
    lines = [i for i, line in enumerate(pods.read_text().splitlines(), 1) if "privileged: true" in line]
    assert sorted((f["check_id"], f["name"], f["where"]) for f in findings) == [
        ("KF-POD-001", name, f"{pods}:{line}") for name, line in zip(("b", "c"), lines, strict=True)
    ]
    assert {f["remediation"] for f in findings} == {load_builtin_checks().get("KF-POD-001").remediation}
    assert data["ttr"]["by_severity"]["critical"]["count"] == 1  # pod a, fixed after a day
    assert data["ttr"]["by_severity"]["critical"]["median_s"] == DAY
    assert data["target"] is None and data["since"] is None
    assert "wrote " + str(out) in res.output and "3 scans, 2 open findings" in res.output


def test_report_html_max_findings(tmp_path: Path) -> None:
    from kubefort.cli import report_html
    from kubefort.history import view

    assert report_html.MAX_FINDINGS == view.MAX_FINDINGS  # the option's default is the view's
    url = f"sqlite:///{tmp_path / 'h.db'}"
    record_history(tmp_path, url)
    out = tmp_path / "report.html"
    res = run_html("--store", url, "--since", "all", "--max-findings", "1", "-o", str(out))
    assert res.exit_code == 0, res.output
    data = page_data(Page(out.read_text(encoding="utf-8")))
    assert [f["name"] for f in decode_findings(data["open_findings"])] == ["b"]  # the oldest first
    assert data["open_totals"] == {"count": 2, "by_severity": {"critical": 2}, "targets": 1, "listed": 1}
    assert "3 scans, 2 open findings, 1 of them listed" in res.output
    res = run_html("--store", url, "--since", "all", "--max-findings", "0", "-o", str(out))
    assert len(decode_findings(page_data(Page(out.read_text(encoding="utf-8")))["open_findings"])) == 2
    assert "3 scans, 2 open findings" in res.output and "listed" not in res.output
    res = run_html("--store", url, "--max-findings", "-1", "-o", str(out))
    assert res.exit_code == 2 and "--max-findings" in res.output


def test_report_html_one_target_and_a_window(tmp_path: Path, store_url: str) -> None:  # noqa: F811
    import time

    record_history(tmp_path, store_url)
    out = tmp_path / "report.html"
    # --since as an ISO date: the last two scans only
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + DAY / 2))
    res = run_html("--store", store_url, "--target", "repo:shop", "--since", since, "-o", str(out))
    assert res.exit_code == 0, res.output
    data = page_data(Page(out.read_text(encoding="utf-8")))
    assert data["target"] == "repo:shop" and data["since"] == T0 + DAY / 2
    assert [s["finished_at"] for s in data["scans"]] == [T0 + DAY, T0 + 2 * DAY]
    assert Page(out.read_text(encoding="utf-8")).ids["fact-target"] == "repo:shop"


def test_report_html_unknown_target_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    record_history(tmp_path, url)
    out = tmp_path / "report.html"
    res = run_html("--store", url, "--target", "repo:shp", "-o", str(out))
    assert res.exit_code == 2
    assert res.output.splitlines() == [
        f"kubefort: error: no target 'repo:shp' in {url}; did you mean repo:shop? (targets: repo:shop)"
    ]
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "neither a duration"),
        (
            ["-o", "/nonexistent-dir/r.html"],
            "cannot write HTML report /nonexistent-dir/r.html: directory /nonexistent-dir does not exist",
        ),
        ([], "Missing option '-o'"),
    ],
)
def test_report_html_bad_arguments_exit_2_before_reading_the_store(
    tmp_path: Path, args: list[str], message: str
) -> None:
    url = f"sqlite:///{tmp_path / 'never' / 'h.db'}"
    base = ["--store", url]
    if "-o" not in args and args:
        base += ["-o", str(tmp_path / "r.html")]
    res = run_html(*base, *args)
    assert res.exit_code == 2
    assert message in res.output
    assert not (tmp_path / "never").exists()  # the store was never opened (nor created)


def test_report_html_store_alone_reads_kubefort_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    record_history(tmp_path, url)
    monkeypatch.setenv("KUBEFORT_STORE", url)
    out = tmp_path / "report.html"
    res = run_html("--store", "--since", "all", "-o", str(out))
    assert res.exit_code == 0, res.output
    data = page_data(Page(out.read_text(encoding="utf-8")))
    assert len(data["scans"]) == 3 and data["store"] == url


def test_report_html_help_names_the_options() -> None:
    res = run_html("--help")
    assert res.exit_code == 0
    for opt in ("--store [URL]", "--target KEY", "--since WHEN", "-o, --output FILE", "[default: 90d]"):
        assert opt in res.output
