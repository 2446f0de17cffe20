"""kubefort.vulndb: shipped data, version parsing, the CVE feed extractor, `kubefort db`."""

from __future__ import annotations

import datetime as dt
import json
import socket
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import FIXTURES
from kubefort import vulndb
from kubefort.cli import cli
from kubefort.vulndb import AFFECTED, CANNOT_TELL, Version, feed, parse_version

SAMPLE = FIXTURES / "vulndb" / "official-cve-feed-sample.json"
TODAY = dt.date(2026, 11, 25)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    vulndb.clear_cache()
    yield
    vulndb.clear_cache()


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("network used")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.mark.parametrize(
    "text, want",
    [
        ("v1.28.3-eks-4f4795d", Version(1, 28, 3)),
        ("v1.27.8-gke.1067004", Version(1, 27, 8)),
        ("v1.29.2+k3s1", Version(1, 29, 2)),
        ("v1.30.1+rke2r1", Version(1, 30, 1)),
        ("1.33.1", Version(1, 33, 1)),
        ("v1.31.0-rc.1", Version(1, 31, 0)),
        ("v1.35", Version(1, 35, 0)),
    ],
)
def test_parse_version_vendor_suffixes(text, want):
    assert parse_version(text) == want


@pytest.mark.parametrize("text", ["", "latest", "1", "vX.Y", None, 128])
def test_parse_version_rejects(text):
    assert parse_version(text) is None


def test_shipped_data_is_dated_and_covers_the_required_minors():
    db = vulndb.load()
    assert db.cves_generated == db.releases_generated == "2026-11-25"
    assert db.cves_path.startswith("shipped")
    minors = {r["minor"] for r in db.releases["kubernetes"]}
    assert {f"1.{n}" for n in range(19, 38)} <= minors
    for r in db.releases["kubernetes"]:
        if r["released"]:
            assert r["released"] < r["eol"], r
    assert db.cves["source"].endswith("official-cve-feed/index.json")
    assert all(r["id"].startswith("CVE-") and r["components"] for r in db.records)


def test_version_eol():
    assert vulndb.version_eol("1.30", TODAY)["past_eol"] is True
    assert vulndb.version_eol("1.30", TODAY)["eol"] == "2025-07-15"
    now = vulndb.version_eol("v1.37.2", TODAY)
    assert now["past_eol"] is False and now["days_left"] > 300
    assert vulndb.version_eol("1.34", dt.date(2026, 10, 27))["past_eol"] is False  # the EOL day itself is supported
    assert vulndb.version_eol("1.34", dt.date(2026, 10, 28))["past_eol"] is True
    assert vulndb.version_eol("1.40", TODAY) is None  # newer than the data
    assert vulndb.version_eol("1.8", TODAY)["past_eol"] is True  # older than the table


def test_cves_for_ranges_and_vendor_versions():
    ids = lambda comp, v: {r["id"]: s for r, s in vulndb.cves_for(comp, v)}
    assert ids("kube-apiserver", "v1.29.2-gke.1060000") == {"CVE-2024-3177": AFFECTED, "CVE-2025-5187": AFFECTED}
    assert "CVE-2024-3177" not in ids("kube-apiserver", "v1.29.4")  # fixed in 1.29.4
    assert ids("kube-apiserver", "v1.37.2") == {}
    assert "CVE-2024-10220" in ids("kubelet", "v1.30.2+k3s1")
    assert "CVE-2024-10220" not in ids("kubelet", "v1.30.3")
    assert "CVE-2023-5528" in ids("kubelet", "v1.20.4")  # below the oldest fixed minor
    assert "CVE-2023-5528" not in ids("kubelet", "v1.29.0")  # newer minors never had the bug


def test_unreadable_ranges_are_cannot_tell_never_not_affected():
    db = vulndb.VulnDB(
        releases=vulndb.load().releases,
        cves_path="test",
        releases_path="test",
        cves={
            "generated": "2026-11-25",
            "records": [
                {"id": "CVE-1", "components": ["kubelet"], "ranges": [], "flags": ["no 'Affected Versions' section"]},
                {
                    "id": "CVE-2",
                    "components": ["kubelet"],
                    "ranges": [{"introduced": "1.30.0", "fixed": "1.30.2"}],
                    "flags": ["unparsed affected line: 'something odd'"],
                },
                {
                    "id": "CVE-3",
                    "components": ["kubelet"],
                    "ranges": [{"introduced": "1.30.0", "fixed": "1.30.2"}],
                    "flags": [],
                },
            ],
        },
    )
    assert [(r["id"], s) for r, s in vulndb.cves_for("kubelet", "1.31.0", db)] == [
        ("CVE-1", CANNOT_TELL),
        ("CVE-2", CANNOT_TELL),
    ]
    assert [(r["id"], s) for r, s in vulndb.cves_for("kubelet", "1.30.1", db)] == [
        ("CVE-1", CANNOT_TELL),
        ("CVE-2", AFFECTED),
        ("CVE-3", AFFECTED),
    ]
    assert vulndb.cves_for("kube-apiserver", "1.30.1", db) == []


def test_extractor_on_real_feed_items():
    recs = {r["id"]: r for r in feed.extract(json.loads(SAMPLE.read_text()))}
    # bold headings, CRLF line ends, "V1.24.14" with a capital V, component from "This bug affects Kubelet."
    r = recs["CVE-2023-2431"]
    assert r["components"] == ["kubelet"] and r["published"] == "2023-06-15" and not r["flags"]
    assert r["ranges"] == [
        {"introduced": "1.27.0", "last_affected": "1.27.1"},
        {"introduced": "1.26.0", "last_affected": "1.26.4"},
        {"introduced": "1.25.0", "last_affected": "1.25.9"},
        {"introduced": None, "last_affected": "1.24.13"},
    ]
    assert r["fixed_versions"] == ["1.24.14", "1.25.10", "1.26.5", "1.27.2"]
    # "kubelet >= v1.8.0 (including all later minor versions)", bounded by the fixed list
    r = recs["CVE-2023-5528"]
    assert {"introduced": "1.27.0", "fixed": "1.27.8"} in r["ranges"] and {
        "introduced": "1.8.0",
        "fixed": "1.25.0",
    } in r["ranges"]
    assert r["flags"] == ["open-ended affected range bounded by the fixed versions"]
    # markdown-escaped dash, two-part version without "v", component from "This issue affects ingress-nginx."
    r = recs["CVE-2025-1097"]
    assert r["components"] == ["ingress-nginx"]
    assert r["ranges"] == [
        {"introduced": None, "fixed": "1.11.0"},
        {"introduced": "1.11.0", "last_affected": "1.11.4"},
        {"introduced": "1.12.0", "last_affected": "1.12.0"},
    ]
    # a text without version sections: kept, flagged, no ranges
    r = recs["CVE-2025-5187"]
    assert r["ranges"] == [] and "no 'Affected Versions' section" in r["flags"]


@pytest.mark.parametrize(
    "line, want",
    [
        ("kube-apiserver: v1.33.0 - 1.33.1", (["kube-apiserver"], {"introduced": "1.33.0", "last_affected": "1.33.1"})),
        ("kubelet v1.31.0 to v1.31.4", (["kubelet"], {"introduced": "1.31.0", "last_affected": "1.31.4"})),
        ("ingress-nginx: < v1.13.7", (["ingress-nginx"], {"introduced": None, "fixed": "1.13.7"})),
        ("<=v1.29.12", ([], {"introduced": None, "last_affected": "1.29.12"})),
        ("All versions of Kubernetes", ([], {"introduced": None, "open": True})),
    ],
)
def test_extractor_lines(line, want):
    comps, rest = feed._split_component(line)
    assert (comps, feed._parse_bound(rest)) == want


def test_per_minor_upper_bounds():
    text = "#### Affected Versions\n\n- kubelet <= v1.28.0\n- kubelet <= v1.27.4\n- kubelet <= v1.26.7\n"
    r = feed.extract_item({"id": "CVE-2023-3676", "content_text": text})
    assert [x["introduced"] for x in r["ranges"]] == ["1.28.0", "1.27.0", None]


def test_db_info(no_network):
    res = CliRunner().invoke(cli, ["db", "info"])
    assert res.exit_code == 0, res.output
    assert "generated 2026-11-25" in res.output and "shipped (cves.json)" in res.output
    res = CliRunner().invoke(cli, ["db", "info", "--json"])
    data = json.loads(res.output)
    assert (
        data["cves"]["records"] == len(vulndb.load().records) and data["releases"]["kubernetes_minors"] == "1.10-1.37"
    )


def test_db_update_from_file_writes_the_user_copy(tmp_path, no_network):
    doc = json.loads(SAMPLE.read_text())
    doc["_kubernetes_io"]["updated_at"] = "2027-01-05T10:00:00Z"  # newer than the shipped data
    src = tmp_path / "index.json"
    src.write_text(json.dumps(doc))
    res = CliRunner().invoke(cli, ["db", "update", "--from-file", str(src)])
    assert res.exit_code == 0, res.output
    target = tmp_path / "cache" / "kubefort" / "vulndb" / "cves.json"
    written = json.loads(target.read_text())
    assert written["generated"] == "2027-01-05" and len(written["records"]) == 4
    assert not list(target.parent.glob(".cves-*"))  # the temporary file was renamed
    db = vulndb.load()
    assert db.cves_path == str(target) and db.cves_generated == "2027-01-05"
    assert "loaded from  " + str(target) in CliRunner().invoke(cli, ["db", "info"]).output


def test_db_update_older_feed_keeps_the_shipped_data(no_network):
    res = CliRunner().invoke(cli, ["db", "update", "--from-file", str(SAMPLE)])
    assert res.exit_code == 0 and "stays in use" in res.output
    assert vulndb.load().cves_path.startswith("shipped")


def test_db_update_bad_input_exits_2_and_writes_nothing(tmp_path, no_network):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = CliRunner().invoke(cli, ["db", "update", "--from-file", str(bad)])
    assert res.exit_code == 2 and "could not read the CVE feed" in res.output
    res = CliRunner().invoke(cli, ["db", "update", "--from-file", str(tmp_path / "missing.json")])
    assert res.exit_code == 2
    bad.write_text('{"items": "nope"}')
    assert CliRunner().invoke(cli, ["db", "update", "--from-file", str(bad)]).exit_code == 2
    assert not (tmp_path / "cache" / "kubefort" / "vulndb" / "cves.json").exists()


def test_db_update_fetch_failure_is_a_clear_error(monkeypatch):
    def boom(*a, **k):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", boom)
    res = CliRunner().invoke(cli, ["db", "update", "--url", "https://feed.invalid/index.json"])
    assert res.exit_code == 2 and "no route to host" in res.output


def test_scans_and_explain_use_no_network(no_network):
    path = Path(__file__).parent / "fixtures" / "checks" / "KF-CLU-002.yaml"
    res = CliRunner().invoke(cli, ["scan", str(path), "--checks", "KF-CLU", "-o", "json"])
    assert res.exit_code in (0, 1, 3), res.output  # 3: some targets not evaluated
    assert "CVE data of 2026-11-25" in res.output
    assert CliRunner().invoke(cli, ["explain", "KF-CLU-002"]).exit_code == 0
