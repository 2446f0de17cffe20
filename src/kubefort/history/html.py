"""`kubefort report html`: the history view (`kubefort.history.view.build_view`) as ONE
self-contained HTML file, to open offline or keep as a CI artifact.

The page is laid out by a Jinja2 template (`templates/report.html.j2`, autoescape on) with the
style sheet and the script inlined from `templates/report.css` and `templates/report.js`; the
data goes in once, as JSON in a `<script type="application/json">` block that the script reads
and draws from (tables, inline SVG charts). Nothing is fetched: the page's Content-Security-
Policy allows no network at all, and runs only the one script and style sheet it carries (by
their SHA-256 hashes).

The JSON is made safe for a `<script>` element by escaping `<`, `>`, `&` (no `</script>` or
`<!--` can close or confuse the element) and U+2028/U+2029 as `\\uXXXX` escapes, which JSON
reads back as the same characters. The open findings, the bulk of a large history, are
embedded as rows of an interned-string table (`compact_findings`), which keeps 10,000 findings
well under the 5 MB the issue allows.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any

import orjson

__all__ = ["FINDING_COLUMNS", "compact_findings", "embed_json", "render", "render_bytes"]

# the open-finding fields in the order each embedded row holds them; INTERNED ones are indexes
# into the shared string table (they repeat: a check's name and fix, a target, a kind)
FINDING_COLUMNS = (
    "fingerprint",
    "target",
    "check_id",
    "check_name",
    "severity",
    "api_version",
    "kind",
    "namespace",
    "name",
    "where",
    "message",
    "remediation",
    "first_seen_at",
    "age_s",
)
INTERNED = frozenset(
    {"target", "check_id", "check_name", "severity", "api_version", "kind", "namespace", "remediation"}
)

# (character, its JSON escape): str.replace per character is much faster than str.translate
_SCRIPT_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def embed_json(data: Any) -> str:
    """`data` as JSON text that can sit inside a `<script>` element as it is: no `<`, `>` or
    `&` (so no `</script>`, `<!--` or character reference), no U+2028/U+2029."""
    text = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()
    for char, escape in _SCRIPT_ESCAPES:
        if char in text:
            text = text.replace(char, escape)
    return text


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    """A time or duration as the page shows it: whole seconds are plenty (and shorter)."""
    if value is None:
        return None
    return round(float(value))


def _finding_fields(f: Mapping[str, Any]) -> dict[str, Any]:
    res = f.get("resource") or {}
    return {
        "fingerprint": _text(f.get("fingerprint")),
        "target": _text(f.get("target")),
        "check_id": _text(f.get("check_id")),
        "check_name": _text(f.get("check_name")),
        "severity": _text(f.get("severity")),
        "api_version": _text(res.get("apiVersion")),
        "kind": _text(res.get("kind")),
        "namespace": _text(res.get("namespace")),
        "name": _text(res.get("name")),
        "where": _text(f.get("where")),
        "message": _text(f.get("message")),
        "remediation": _text(f.get("remediation")),
        "first_seen_at": _number(f.get("first_seen_at")),
        "age_s": _number(f.get("age_s")),
    }


def compact_findings(findings: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The open findings as `{"columns", "strings", "rows"}`: one list per finding in
    FINDING_COLUMNS order, the INTERNED columns as indexes into `strings` (None stays None)."""
    strings: list[str] = []
    index: dict[str, int] = {}

    def intern(value: str | None) -> int | None:
        if value is None:
            return None
        i = index.get(value)
        if i is None:
            i = index[value] = len(strings)
            strings.append(value)
        return i

    rows = []
    for f in findings:
        fields = _finding_fields(f)
        rows.append([intern(fields[c]) if c in INTERNED else fields[c] for c in FINDING_COLUMNS])
    return {"columns": list(FINDING_COLUMNS), "interned": sorted(INTERNED), "strings": strings, "rows": rows}


def _page_data(view: Mapping[str, Any]) -> dict[str, Any]:
    """The view as the page's script reads it: everything as given, the open findings compacted."""
    data = {k: v for k, v in view.items() if k != "open_findings"}
    data["open_findings"] = compact_findings(view.get("open_findings") or [])
    return data


def _utc(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t))


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _asset(name: str) -> str:
    return resources.files("kubefort.history").joinpath("templates", name).read_text(encoding="utf-8")


def _template_renderer() -> Callable[..., str]:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("kubefort.history", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render


def render(view: Mapping[str, Any]) -> str:
    """The HTML page (one self-contained document) for a history view dict."""
    from markupsafe import Markup

    css, js = _asset("report.css"), _asset("report.js")
    target = view.get("target")
    since = view.get("since")
    generated_at = view.get("generated_at")
    return _template_renderer()(
        title=f"kubefort posture report — {target}" if target else "kubefort posture report",
        target=target,
        store=view.get("store"),
        since=_utc(since),
        generated=_utc(generated_at),
        scans=len(view.get("scans") or []),
        targets=len(view.get("targets") or []),
        # Markup: the three are inserted as they are; embed_json's output has no `<`, and the
        # style sheet and script are this package's own files (tests check neither closes early)
        data=Markup(embed_json(_page_data(view))),  # noqa: S704
        css=Markup(css),  # noqa: S704
        js=Markup(js),  # noqa: S704
        csp=f"default-src 'none'; img-src data:; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}",
    )


def render_bytes(view: Mapping[str, Any]) -> bytes:
    """render() as UTF-8, the bytes `kubefort report html` writes."""
    return render(view).encode("utf-8")
