/* kubefort report html: draws the page from the JSON in #kf-data. No network, no libraries.
   Every text from the data goes in with textContent or as an SVG text node, never as markup. */
(function () {
  "use strict";
  const SVGNS = "http://www.w3.org/2000/svg";
  const SEVS = ["critical", "high", "medium", "low", "info"];
  const SEV_RANK = { critical: 0, high: 1, medium: 2, low: 3, info: 4 };
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const DAY = 86400;
  const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

  /* ---------- small helpers ---------- */
  function el(tag, cls, ...children) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVGNS, tag);
    for (const k in attrs) if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function titled(node, text) { node.append(svg("title", {}, text)); return node; }
  function sevOf(s) { return Object.prototype.hasOwnProperty.call(SEV_RANK, s) ? s : "unknown"; }
  function str(v) { return v === null || v === undefined ? "" : String(v); }
  function isNum(v) { return typeof v === "number" && Number.isFinite(v); }
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function fmtTime(t) {
    if (!isNum(t)) return "—";
    const d = new Date(t * 1000);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + " UTC";
  }
  function fmtDate(t) {
    if (!isNum(t)) return "—";
    const d = new Date(t * 1000);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }
  function fmtInt(n) { return isNum(n) ? Math.round(n).toLocaleString("en-US") : "—"; }
  function fmtNum(n) {
    if (!isNum(n)) return "—";
    if (Number.isInteger(n)) return n.toLocaleString("en-US");
    return n.toLocaleString("en-US", { maximumFractionDigits: Math.abs(n) < 10 ? 2 : 1 });
  }
  function fmtDuration(s) {
    if (!isNum(s)) return "—";
    if (s < 90) return Math.round(s) + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    if (s < 2 * DAY) return (s / 3600).toFixed(1) + " h";
    return (s / DAY).toFixed(s < 10 * DAY ? 1 : 0) + " d";
  }
  function fmtMetric(unit, v) {
    if (!isNum(v)) return "—";
    const u = str(unit).toLowerCase();
    if (u === "ratio" || u === "share" || u === "fraction") return (v * 100).toFixed(v === 1 || v === 0 ? 0 : 1) + "%";
    if (u === "percent" || u === "%") return fmtNum(v) + "%";
    if (u === "seconds" || u === "s" || u === "duration") return fmtDuration(v);
    if (u === "bool" || u === "boolean") return v ? "yes" : "no";
    if (u === "count" || u === "" || u === "number") return fmtNum(v);
    return fmtNum(v) + " " + str(unit);
  }
  function width(node) { return Math.max(280, Math.floor(node.clientWidth || 600)); }
  function truncate(text, px) {
    const max = Math.max(4, Math.floor(px / 6.6));
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  /* ---------- data ---------- */
  function readData() {
    const node = document.getElementById("kf-data");
    return JSON.parse(node.textContent);
  }
  function decodeFindings(c) {
    if (!c || !Array.isArray(c.rows)) return [];
    const interned = new Set(c.interned || []);
    const cols = c.columns.map((k) => [k, interned.has(k)]);
    const S = c.strings || [];
    return c.rows.map((r) => {
      const o = {};
      for (let i = 0; i < cols.length; i++) {
        const v = r[i];
        o[cols[i][0]] = cols[i][1] && v !== null && v !== undefined ? S[v] : v;
      }
      o.sev = sevOf(o.severity);
      o.hay = [o.check_id, o.check_name, o.severity, o.target, o.kind, o.namespace, o.name, o.where, o.message, o.remediation, o.fingerprint]
        .map(str).join("\u0000").toLowerCase();
      return o;
    });
  }

  /* ---------- scales and axes ---------- */
  function niceTicks(max, n, integer) {
    if (!(max > 0)) return [0, 1];
    const raw = max / n;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const r = raw / mag;
    let step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 2.5 ? 2.5 : r <= 5 ? 5 : 10) * mag;
    if (integer) step = Math.max(1, Math.round(step));
    const ticks = [];
    for (let v = 0; v < max + step - 1e-9; v += step) ticks.push(+v.toPrecision(12));
    return ticks;
  }
  const TIME_STEPS = [3600, 3 * 3600, 6 * 3600, 12 * 3600, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY];
  function timeTicks(t0, t1, maxTicks) {
    const span = Math.max(t1 - t0, 1);
    let step = TIME_STEPS[TIME_STEPS.length - 1];
    for (const s of TIME_STEPS) if (span / s <= maxTicks) { step = s; break; }
    const ticks = [];
    if (step >= 30 * DAY) {
      const months = Math.round(step / (30 * DAY));
      const d = new Date(t0 * 1000);
      let y = d.getUTCFullYear();
      let m = d.getUTCMonth() + 1;
      for (;;) {
        if (m > 11) { y += Math.floor(m / 12); m %= 12; }
        const t = Date.UTC(y, m, 1) / 1000;
        if (t > t1) break;
        if (m % months === 0 || months === 1) ticks.push(t);
        m += 1;
      }
    } else {
      let t = Math.ceil(t0 / step) * step;
      if (step === 7 * DAY || step === 14 * DAY) t = Math.ceil((t0 - 4 * DAY) / step) * step + 4 * DAY; /* Mondays */
      for (; t <= t1; t += step) ticks.push(t);
    }
    return { ticks, step };
  }
  function fmtTick(t, step, span) {
    const d = new Date(t * 1000);
    if (step < DAY) return pad(d.getUTCHours()) + ":00";
    if (step >= 30 * DAY || span > 330 * DAY) return MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear();
    return MONTHS[d.getUTCMonth()] + " " + d.getUTCDate();
  }
  function linear(d0, d1, r0, r1) {
    const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
    return (v) => r0 + (v - d0) * k;
  }
  function drawTimeAxis(g, x, t0, t1, y, w) {
    const { ticks, step } = timeTicks(t0, t1, Math.max(2, Math.floor(w / 95)));
    for (const t of ticks) {
      const px = x(t);
      g.append(svg("line", { class: "axis", x1: px, x2: px, y1: y, y2: y + 4 }));
      g.append(svg("text", { x: px, y: y + 17, "text-anchor": "middle" }, fmtTick(t, step, t1 - t0)));
    }
  }
  function drawValueAxis(g, ticks, y, x0, x1, fmt) {
    for (const v of ticks) {
      const py = y(v);
      g.append(svg("line", { class: v === 0 ? "axis" : "gridline", x1: x0, x2: x1, y1: py, y2: py }));
      g.append(svg("text", { x: x0 - 6, y: py + 4, "text-anchor": "end" }, fmt(v)));
    }
  }
  function legend(items) {
    const ul = el("ul", "legend");
    for (const [cls, text] of items) ul.append(el("li", cls, text));
    return ul;
  }
  function emptyNote(text) { return el("p", "empty", text); }

  /* ---------- sparkline ---------- */
  function sparkline(trend, unit) {
    const pts = (trend || []).filter((p) => Array.isArray(p) && isNum(p[0]) && isNum(p[1]));
    if (pts.length === 0) return el("span", "na", "no history");
    const w = 140, h = 34, padY = 4;
    const s = svg("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, class: "spark", role: "img" });
    const t0 = pts[0][0], t1 = pts[pts.length - 1][0];
    let lo = Math.min(...pts.map((p) => p[1])), hi = Math.max(...pts.map((p) => p[1]));
    if (hi === lo) { hi += 1; lo -= 1; }
    const x = pts.length === 1 ? () => w - 4 : linear(t0, t1, 2, w - 4);
    const y = linear(lo, hi, h - padY, padY);
    const line = pts.map((p, i) => (i ? "L" : "M") + x(p[0]).toFixed(1) + " " + y(p[1]).toFixed(1)).join(" ");
    if (pts.length > 1) {
      s.append(svg("path", { class: "spark-area", d: `${line} L${x(t1).toFixed(1)} ${h} L${x(t0).toFixed(1)} ${h} Z` }));
      s.append(svg("path", { class: "spark-line", d: line }));
    }
    const last = pts[pts.length - 1];
    s.append(svg("circle", { class: "spark-dot", cx: x(last[0]), cy: y(last[1]), r: 2.6 }));
    titled(s, `${fmtMetric(unit, pts[0][1])} on ${fmtDate(t0)} → ${fmtMetric(unit, last[1])} on ${fmtDate(last[0])} (${pts.length} points)`);
    return s;
  }

  /* ---------- sortable, filterable, paged tables ---------- */
  function compareValues(a, b) {
    const na = a === null || a === undefined || a === "", nb = b === null || b === undefined || b === "";
    if (na || nb) return na === nb ? 0 : na ? 1 : -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return collator.compare(String(a), String(b));
  }
  function makeTable(opts) {
    const state = { key: opts.sort ? opts.sort[0] : null, dir: opts.sort ? opts.sort[1] : 1, page: 0, view: opts.rows };
    const table = el("table");
    const thead = el("thead"), tbody = el("tbody"), headRow = el("tr");
    const ths = {};
    for (const col of opts.columns) {
      const th = el("th", col.cls || null);
      th.scope = "col";
      if (col.sort) {
        const b = el("button", null, col.label);
        b.type = "button";
        b.dataset.col = col.key;
        b.addEventListener("click", () => {
          if (state.key === col.key) state.dir = -state.dir;
          else { state.key = col.key; state.dir = col.firstDir || 1; }
          state.page = 0;
          refresh();
        });
        th.append(b);
      } else th.append(col.label);
      ths[col.key] = th;
      headRow.append(th);
    }
    thead.append(headRow);
    table.append(thead, tbody);
    opts.container.replaceChildren(table);

    function sortRows(rows) {
      const col = opts.columns.find((c) => c.key === state.key);
      if (!col || !col.sort) return rows;
      const keyed = rows.map((r, i) => [col.sort(r), i, r]);
      const dir = state.dir;
      keyed.sort((a, b) => {
        const an = a[0] === null || a[0] === undefined || a[0] === "", bn = b[0] === null || b[0] === undefined || b[0] === "";
        if (an || bn) return an === bn ? a[1] - b[1] : an ? 1 : -1; /* empty values last, whichever the direction */
        return dir * compareValues(a[0], b[0]) || a[1] - b[1];
      });
      return keyed.map((k) => k[2]);
    }
    function renderPage() {
      const size = opts.pageSize || state.view.length || 1;
      const pages = Math.max(1, Math.ceil(state.view.length / size));
      state.page = Math.min(state.page, pages - 1);
      const start = state.page * size;
      const frag = document.createDocumentFragment();
      for (const r of state.view.slice(start, start + size)) {
        const tr = el("tr");
        for (const col of opts.columns) {
          const td = el("td", col.cls || null);
          if (col.cardLabel) td.dataset.label = col.cardLabel;
          const v = col.render(r);
          if (v !== null && v !== undefined) td.append(v);
          tr.append(td);
        }
        frag.append(tr);
      }
      if (state.view.length === 0) {
        const tr = el("tr"), td = el("td", "empty", opts.emptyText || "Nothing to show.");
        td.colSpan = opts.columns.length;
        tr.append(td);
        frag.append(tr);
      }
      tbody.replaceChildren(frag);
      for (const col of opts.columns) {
        if (col.sort) ths[col.key].setAttribute("aria-sort", col.key === state.key ? (state.dir > 0 ? "ascending" : "descending") : "none");
      }
      if (opts.pager) {
        const prev = el("button", null, "‹ Previous"), next = el("button", null, "Next ›");
        prev.type = next.type = "button";
        prev.disabled = state.page === 0;
        next.disabled = state.page >= pages - 1;
        prev.addEventListener("click", () => { state.page -= 1; renderPage(); });
        next.addEventListener("click", () => { state.page += 1; renderPage(); });
        const shown = state.view.length ? `${fmtInt(start + 1)}–${fmtInt(Math.min(start + size, state.view.length))} of ${fmtInt(state.view.length)}` : "0 of 0";
        opts.pager.replaceChildren(el("span", null, shown), prev, next);
        opts.pager.hidden = pages <= 1;
      }
      if (opts.onRender) opts.onRender(state.view.length);
    }
    function refresh() {
      const keep = opts.filter ? opts.rows.filter(opts.filter) : opts.rows;
      state.view = sortRows(keep);
      renderPage();
    }
    refresh();
    return { refresh: () => { state.page = 0; refresh(); }, table };
  }

  /* ---------- sections ---------- */
  function summary(data, findings) {
    const box = document.getElementById("summary-cards");
    // the counts cover every open finding, also those past --max-findings that the table leaves out
    const totals = data.open_totals || null;
    let bySev = {}, total = findings.length, nTargets;
    if (totals && isNum(totals.count)) {
      bySev = totals.by_severity || {};
      total = totals.count;
      nTargets = totals.targets;
    } else {
      for (const f of findings) bySev[f.sev] = (bySev[f.sev] || 0) + 1;
      nTargets = new Set(findings.map((f) => f.target)).size;
    }
    const card = (cls, k, v, sub) => el("div", "card" + (cls ? " " + cls : ""), el("div", "k", k), el("div", "v", v), sub ? el("div", "sub", sub) : null);
    const scans = data.scans || [];
    box.append(card("total", "Open findings", fmtInt(total), `on ${nTargets} target${nTargets === 1 ? "" : "s"}`));
    for (const s of SEVS.slice(0, 4)) box.append(card("sev sev-" + s, s, fmtInt(bySev[s] || 0), null));
    const fixed = ((data.ttr || {}).fixed_per_day || []).reduce((a, p) => a + (isNum(p[1]) ? p[1] : 0), 0);
    box.append(card(null, "Fixed in period", fmtInt(fixed), null));
    const last = scans.length ? scans[scans.length - 1] : null;
    box.append(card(null, "Scans", fmtInt(scans.length), last ? "latest " + fmtTime(last.finished_at) : "none in this period"));
  }

  function metricsTable(data) {
    const rows = data.metrics || [];
    const container = document.getElementById("metrics-table");
    if (!rows.length) { container.replaceChildren(emptyNote("No metrics were computed for this history.")); return; }
    const valueCell = (m) => {
      if (!m.available) return el("span", "na", "not available", el("span", "why", str(m.reason) || "no reason given"));
      if (!isNum(m.value)) return el("span", "na", "no value yet");
      const trend = (m.trend || []).filter((p) => isNum(p[1]));
      const sub = trend.length > 1 ? el("span", "sub", `was ${fmtMetric(m.unit, trend[0][1])} on ${fmtDate(trend[0][0])}`) : null;
      const partial = m.partial ? el("span", "sub partial", "partial: " + (str(m.reason) || "some objects could not be evaluated")) : null;
      return el("span", null, el("span", "metric-value", fmtMetric(m.unit, m.value)), partial, sub);
    };
    makeTable({
      container,
      rows,
      sort: null,
      columns: [
        { key: "title", label: "Metric", sort: (m) => str(m.title || m.name), render: (m) => el("span", null, str(m.title || m.name), el("span", "sub mono metric-name", str(m.name))) },
        { key: "value", label: "Latest", cls: "inline metric-cell", sort: (m) => (m.available && isNum(m.value) ? m.value : null), render: valueCell },
        { key: "trend", label: "Trend", cls: "spark inline", render: (m) => (m.available ? sparkline(m.trend, m.unit) : null) },
        {
          key: "definition", label: "Definition", cls: "def",
          sort: (m) => str(m.definition),
          render: (m) => el("span", null, str(m.definition), (m.checks || []).length ? el("span", "sub mono", "checks: " + m.checks.map(str).join(", ")) : null),
        },
      ],
    });
  }

  function severitySeries(scans) {
    const last = new Map();
    const pts = [];
    for (const s of scans) {
      if (!isNum(s.finished_at)) continue;
      last.set(s.target, s.failed_by_severity || {});
      const tot = {};
      for (const sev of SEVS) tot[sev] = 0;
      for (const fbs of last.values()) for (const sev of SEVS) tot[sev] += isNum(fbs[sev]) ? fbs[sev] : 0;
      if (pts.length && pts[pts.length - 1].t === s.finished_at) pts.pop();
      pts.push({ t: s.finished_at, v: tot });
    }
    return pts;
  }

  function severityChart(data) {
    const box = document.getElementById("chart-severity");
    const scans = (data.scans || []).slice().sort((a, b) => a.finished_at - b.finished_at);
    const pts = severitySeries(scans);
    if (!pts.length) { box.replaceChildren(emptyNote("No scans in this period.")); return; }
    const W = width(box), H = Math.round(Math.min(320, Math.max(220, W * 0.3)));
    const m = { l: 44, r: 12, t: 10, b: 28 };
    let t0 = pts[0].t;
    let t1 = Math.max(pts[pts.length - 1].t, isNum(data.generated_at) ? data.generated_at : 0);
    if (isNum(data.since) && data.since < t0) t0 = data.since;
    if (t1 - t0 < 3600) { t0 -= 1800; t1 += 1800; }
    const totals = pts.map((p) => SEVS.reduce((a, s) => a + p.v[s], 0));
    const ticks = niceTicks(Math.max(...totals, 1), Math.max(2, Math.floor(H / 60)), true);
    const x = linear(t0, t1, m.l, W - m.r);
    const y = linear(0, ticks[ticks.length - 1], H - m.b, m.t);
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
    titled(s, "Open findings by severity over time");
    drawValueAxis(s, ticks, y, m.l, W - m.r, fmtInt);
    /* step areas: each scan's counts hold until the next scan */
    const base = pts.map(() => 0);
    for (const sev of SEVS) {
      const top = pts.map((p, i) => base[i] + p.v[sev]);
      if (top.every((v, i) => v === base[i])) continue;
      let d = "";
      for (let i = 0; i < pts.length; i++) {
        const xa = x(pts[i].t), xb = x(i + 1 < pts.length ? pts[i + 1].t : t1);
        d += (i ? "L" : "M") + xa.toFixed(1) + " " + y(top[i]).toFixed(1) + "L" + xb.toFixed(1) + " " + y(top[i]).toFixed(1);
      }
      for (let i = pts.length - 1; i >= 0; i--) {
        const xa = x(pts[i].t), xb = x(i + 1 < pts.length ? pts[i + 1].t : t1);
        d += "L" + xb.toFixed(1) + " " + y(base[i]).toFixed(1) + "L" + xa.toFixed(1) + " " + y(base[i]).toFixed(1);
      }
      s.append(titled(svg("path", { class: "area f-" + sev, d: d + "Z" }), sev));
      for (let i = 0; i < pts.length; i++) base[i] = top[i];
    }
    drawTimeAxis(s, x, t0, t1, H - m.b, W);
    const hover = svg("line", { class: "hover-line", y1: m.t, y2: H - m.b, visibility: "hidden" });
    s.append(hover);
    const readout = el("p", "readout");
    const show = (i) => {
      const p = pts[i];
      hover.setAttribute("x1", x(p.t));
      hover.setAttribute("x2", x(p.t));
      hover.setAttribute("visibility", "visible");
      const parts = [el("b", null, fmtTime(p.t)), ` — ${fmtInt(totals[i])} open: `];
      parts.push(SEVS.map((sev) => `${sev} ${fmtInt(p.v[sev])}`).join(" · "));
      readout.replaceChildren(...parts);
    };
    s.addEventListener("mousemove", (ev) => {
      const r = s.getBoundingClientRect();
      const t = t0 + ((ev.clientX - r.left) * (W / r.width) - m.l) / (W - m.l - m.r) * (t1 - t0);
      let lo = 0, hi = pts.length - 1;
      while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (pts[mid].t <= t) lo = mid; else hi = mid - 1; }
      show(lo);
    });
    s.addEventListener("mouseleave", () => { hover.setAttribute("visibility", "hidden"); show(pts.length - 1); hover.setAttribute("visibility", "hidden"); });
    show(pts.length - 1);
    hover.setAttribute("visibility", "hidden");
    box.replaceChildren(s, readout, legend(SEVS.map((sev) => ["sev-" + sev, sev])));
  }

  function barChart(box, items, onPick) {
    if (!items.length) { box.replaceChildren(emptyNote("No open findings.")); return; }
    const W = width(box), rowH = 38, m = { l: 0, r: 54, t: 4 };
    const H = m.t + items.length * rowH;
    const max = Math.max(...items.map((it) => it.value), 1);
    const x = linear(0, max, 0, W - m.r);
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "list" });
    items.forEach((it, i) => {
      const y0 = m.t + i * rowH;
      const g = svg("g", { class: "bar", tabindex: 0, role: "listitem", "data-pick": it.pick });
      g.append(svg("text", { class: "lbl", x: 0, y: y0 + 12 }, truncate(it.label, W - m.r)));
      g.append(svg("rect", { class: "track", x: 0, y: y0 + 17, width: W - m.r, height: 12, rx: 3 }));
      g.append(svg("rect", { class: "fill " + it.cls, x: 0, y: y0 + 17, width: Math.max(2, x(it.value)), height: 12, rx: 3 }));
      g.append(svg("text", { class: "val", x: W - m.r + 8, y: y0 + 28 }, fmtInt(it.value)));
      titled(g, `${it.label}: ${fmtInt(it.value)} open — click to list them`);
      g.addEventListener("click", () => onPick(it.pick));
      g.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); onPick(it.pick); } });
      s.append(g);
    });
    box.replaceChildren(s);
  }

  function topCharts(data, pick) {
    barChart(
      document.getElementById("chart-top-checks"),
      (data.top_checks || []).map((c) => ({ label: `${str(c.check_id)}  ${str(c.name)}`, value: +c.open || 0, cls: "f-" + sevOf(c.severity), pick: "check:" + str(c.check_id) })),
      pick,
    );
    barChart(
      document.getElementById("chart-top-namespaces"),
      (data.top_namespaces || []).map((n) => ({
        label: n.namespace === null || n.namespace === undefined || n.namespace === "" ? "(cluster-scoped)" : str(n.namespace),
        value: +n.open || 0,
        cls: "f-ns",
        pick: n.namespace ? "ns:" + str(n.namespace) : "ns:",
      })),
      pick,
    );
  }

  function ttrChart(data) {
    const box = document.getElementById("chart-ttr");
    const by = (data.ttr || {}).by_severity || {};
    const sevs = SEVS.filter((s) => by[s]).concat(Object.keys(by).filter((s) => !(s in SEV_RANK)).sort());
    if (!sevs.length) { box.replaceChildren(emptyNote("No finding has been fixed yet: time to remediate is not available.")); return; }
    const W = width(box), rowH = 52, m = { l: 0, r: 62, t: 4 };
    const H = m.t + sevs.length * rowH + 22;
    const max = Math.max(1, ...sevs.map((s) => Math.max(isNum(by[s].p90_s) ? by[s].p90_s : 0, isNum(by[s].median_s) ? by[s].median_s : 0)));
    const unit = max >= 2 * DAY ? [DAY, "d"] : max >= 2 * 3600 ? [3600, "h"] : [60, "min"];
    const ticks = niceTicks(max / unit[0], Math.max(2, Math.floor(W / 110)), false);
    const x = linear(0, ticks[ticks.length - 1] * unit[0], 0, W - m.r);
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
    titled(s, "Time to remediate: median and p90 per severity");
    const yEnd = H - 22;
    for (const v of ticks) {
      const px = x(v * unit[0]);
      s.append(svg("line", { class: v === 0 ? "axis" : "gridline", x1: px, x2: px, y1: m.t, y2: yEnd }));
      s.append(svg("text", { x: px, y: yEnd + 15, "text-anchor": v === 0 ? "start" : "middle" }, `${+v.toFixed(2)} ${unit[1]}`));
    }
    sevs.forEach((sev, i) => {
      const r = by[sev], y0 = m.t + i * rowH;
      const n = isNum(r.count) ? r.count : 0;
      s.append(svg("text", { class: "lbl", x: 0, y: y0 + 12 }, `${sev} · ${fmtInt(n)} fixed`));
      if (!isNum(r.median_s)) {
        s.append(svg("text", { x: 0, y: y0 + 30 }, "not available: none fixed in the period"));
        return;
      }
      const cls = sevOf(sev);
      const med = svg("rect", { class: "f-median", x: 0, y: y0 + 17, width: Math.max(2, x(r.median_s)), height: 11, rx: 2 });
      s.append(titled(med, `${sev}: median ${fmtDuration(r.median_s)} over ${fmtInt(n)} fixed findings`));
      s.append(svg("text", { class: "val", x: Math.max(2, x(r.median_s)) + 6, y: y0 + 27 }, fmtDuration(r.median_s)));
      if (isNum(r.p90_s)) {
        const p90 = svg("rect", { class: "f-p90", x: 0, y: y0 + 30, width: Math.max(2, x(r.p90_s)), height: 11, rx: 2 });
        s.append(titled(p90, `${sev}: 90th percentile ${fmtDuration(r.p90_s)}`));
        s.append(svg("text", { x: Math.max(2, x(r.p90_s)) + 6, y: y0 + 40 }, fmtDuration(r.p90_s)));
      }
      s.append(svg("rect", { class: "f-" + cls, x: -6, y: y0 + 17, width: 3, height: 24 }));
    });
    box.replaceChildren(s, legend([["c-median", "median"], ["c-p90", "90th percentile"]]));
  }

  function flowChart(data) {
    const box = document.getElementById("chart-flow");
    const ttr = data.ttr || {};
    const fixed = (ttr.fixed_per_day || []).filter((p) => isNum(p[0]) && isNum(p[1]));
    const open = (ttr.open_per_day || []).filter((p) => isNum(p[0]) && isNum(p[1]));
    if (!fixed.length && !open.length) { box.replaceChildren(emptyNote("No daily history in this period.")); return; }
    const W = width(box), m = { l: 44, r: 10 }, H1 = 140, H2 = 80, gap = 44, H = H1 + gap + H2 + 24;
    const all = fixed.concat(open).map((p) => p[0]);
    const t0 = Math.min(...all), t1 = Math.max(...all) + DAY;
    const x = linear(t0, t1, m.l, W - m.r);
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
    titled(s, "Open findings per day and findings fixed per day");
    if (open.length) {
      const ticks = niceTicks(Math.max(...open.map((p) => p[1]), 1), 3, true);
      const y = linear(0, ticks[ticks.length - 1], H1, 18);
      drawValueAxis(s, ticks, y, m.l, W - m.r, fmtInt);
      s.append(svg("text", { class: "lbl", x: m.l, y: 10 }, "open findings"));
      const d = open.map((p, i) => (i ? "L" : "M") + x(p[0] + DAY / 2).toFixed(1) + " " + y(p[1]).toFixed(1)).join("");
      s.append(titled(svg("path", { class: "s-open", d }), "open findings at the end of each day"));
    }
    const yb0 = H1 + gap + H2;
    const fticks = niceTicks(Math.max(...fixed.map((p) => p[1]), 1), 2, true);
    const yb = linear(0, fticks[fticks.length - 1], yb0, H1 + gap);
    drawValueAxis(s, fticks, yb, m.l, W - m.r, fmtInt);
    s.append(svg("text", { class: "lbl", x: m.l, y: H1 + gap - 8 }, "fixed per day"));
    const bw = Math.max(1, (x(t0 + DAY) - x(t0)) * 0.8);
    for (const p of fixed) {
      if (p[1] <= 0) continue;
      const r = svg("rect", { class: "f-fixed", x: x(p[0]) + bw * 0.1, y: yb(p[1]), width: bw, height: yb0 - yb(p[1]) });
      s.append(titled(r, `${fmtDate(p[0])}: ${fmtInt(p[1])} fixed`));
    }
    drawTimeAxis(s, x, t0, t1, yb0, W);
    box.replaceChildren(s, legend([["c-open", "open findings (day's end)"], ["c-fixed", "fixed that day"]]));
  }

  function frameworksChart(data) {
    const box = document.getElementById("chart-frameworks");
    const fws = data.frameworks || [];
    if (!fws.length) { box.replaceChildren(emptyNote("No framework mappings were evaluated.")); return; }
    const W = width(box), rowH = 58, H = fws.length * rowH;
    const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
    titled(s, "Framework compliance: controls passing, failing and not evaluated");
    fws.forEach((f, i) => {
      const y0 = i * rowH;
      const pass = +f.passing || 0, fail = +f.failing || 0, ne = +f.not_evaluated || 0;
      const total = Math.max(+f.controls || 0, pass + fail + ne, 1);
      const share = isNum(f.share_passing) ? (f.share_passing * 100).toFixed(f.share_passing === 1 ? 0 : 1) + "% passing" : "not available: no control evaluated";
      s.append(svg("text", { class: "lbl", x: 0, y: y0 + 13 }, str(f.framework)));
      s.append(svg("text", { class: "val", x: W, y: y0 + 13, "text-anchor": "end" }, share));
      let cx = 0;
      for (const [n, cls, what] of [[pass, "f-pass", "passing"], [fail, "f-fail", "failing"], [ne, "f-na", "not evaluated"]]) {
        if (n <= 0) continue;
        const w = (W * n) / total;
        s.append(titled(svg("rect", { class: cls, x: cx, y: y0 + 20, width: Math.max(1, w - 1), height: 14 }), `${str(f.framework)}: ${fmtInt(n)} ${what}`));
        cx += w;
      }
      if (cx < W - 1) s.append(svg("rect", { class: "track", x: cx, y: y0 + 20, width: W - cx, height: 14 }));
      const uncovered = +f.not_covered > 0 ? ` · ${fmtInt(+f.not_covered)} not covered by any check` : "";
      s.append(svg("text", { x: 0, y: y0 + 49 }, `${fmtInt(pass)} passing · ${fmtInt(fail)} failing · ${fmtInt(ne)} not evaluated of ${fmtInt(+f.controls || 0)} controls${uncovered}`));
    });
    box.replaceChildren(s, legend([["c-pass", "passing"], ["c-fail", "failing"], ["c-na", "not evaluated (not counted as passing)"]]), frameworkDetails(fws));
  }

  /* the controls of each framework that fail or could not be evaluated, with their checks */
  const STATE_ORDER = { failing: 0, "not-evaluated": 1, passing: 2, "not-covered": 3 };
  function frameworkDetails(fws) {
    const wrap = el("div", "fw-details");
    for (const f of fws) {
      const detail = (Array.isArray(f.detail) ? f.detail : []).filter((d) => d && (d.state === "failing" || d.state === "not-evaluated"));
      if (!detail.length) continue;
      detail.sort((a, b) => (STATE_ORDER[a.state] - STATE_ORDER[b.state]) || collator.compare(str(a.control), str(b.control)));
      const d = el("details");
      d.append(el("summary", null, `${str(f.framework)}: ${fmtInt(+f.failing || 0)} failing and ${fmtInt(+f.not_evaluated || 0)} not-evaluated controls`));
      const ul = el("ul", "controls");
      for (const c of detail) {
        const li = el("li", null, el("span", "badge " + (c.state === "failing" ? "st-fail" : "st-na"), c.state === "failing" ? "failing" : "not evaluated"), " ", el("b", null, str(c.control)));
        if ((c.checks || []).length) li.append(el("span", "sub mono", (c.checks || []).map(str).join(", ")));
        ul.append(li);
      }
      d.append(ul);
      wrap.append(d);
    }
    return wrap;
  }

  /* ---------- open findings ---------- */
  const FIELD_FILTERS = { check: "check_id", ns: "namespace", kind: "kind", target: "target", sev: "severity", name: "name" };
  function parseQuery(text) {
    const out = [];
    for (const tok of text.trim().toLowerCase().split(/\s+/)) {
      if (!tok) continue;
      const i = tok.indexOf(":");
      const field = i > 0 ? FIELD_FILTERS[tok.slice(0, i)] : undefined;
      out.push(field ? { field, value: tok.slice(i + 1) } : { value: tok });
    }
    return out;
  }
  function matches(f, query) {
    for (const q of query) {
      if (q.field) {
        const v = str(f[q.field]).toLowerCase();
        if (q.field === "namespace" && q.value === "" ? v !== "" : !v.includes(q.value)) return false;
      } else if (!f.hay.includes(q.value)) return false;
    }
    return true;
  }

  function findingsSection(data, findings) {
    const input = document.getElementById("findings-filter");
    const sevBox = document.getElementById("findings-sevs");
    const countNode = document.getElementById("findings-count");
    const multiTarget = new Set(findings.map((f) => f.target)).size > 1;
    const on = new Set(SEVS.concat(["unknown"]));
    const counts = {};
    for (const f of findings) counts[f.sev] = (counts[f.sev] || 0) + 1;
    let query = [];
    let table = null;
    for (const sev of SEVS.concat(counts.unknown ? ["unknown"] : [])) {
      const cb = el("input");
      cb.type = "checkbox";
      cb.checked = true;
      cb.value = sev;
      const label = el("label", "sev-" + sev, cb, `${sev} ${fmtInt(counts[sev] || 0)}`);
      cb.addEventListener("change", () => {
        if (cb.checked) on.add(sev); else on.delete(sev);
        label.classList.toggle("off", !cb.checked);
        table.refresh();
      });
      sevBox.append(label);
    }
    const columns = [
      {
        key: "severity", label: "Severity", cls: "inline", firstDir: 1, sort: (f) => (f.sev in SEV_RANK ? SEV_RANK[f.sev] : 9),
        render: (f) => el("span", "badge sev-" + f.sev, str(f.severity) || "unknown"),
      },
      { key: "check", label: "Check", cls: "check inline", sort: (f) => str(f.check_id), render: (f) => el("span", null, el("span", "mono", str(f.check_id)), el("span", "sub", str(f.check_name))) },
      {
        key: "where", label: "Where", cls: "where", sort: (f) => str(f.where),
        render: (f) => {
          const obj = [f.kind, f.namespace, f.name].filter((v) => v !== null && v !== undefined && v !== "").map(str).join("/");
          return el("span", null, el("span", "mono", str(f.where)), obj && obj !== str(f.where) ? el("span", "sub", obj) : null, multiTarget ? el("span", "sub", str(f.target)) : null);
        },
      },
      { key: "message", label: "Message", cls: "msg", sort: (f) => str(f.message), render: (f) => str(f.message) },
      { key: "fix", label: "Fix", cls: "fix", cardLabel: "Fix:", sort: (f) => str(f.remediation), render: (f) => str(f.remediation) },
      {
        key: "first_seen", label: "First seen", cls: "num", cardLabel: "First seen", firstDir: 1, sort: (f) => (isNum(f.first_seen_at) ? f.first_seen_at : null),
        render: (f) => el("span", null, fmtDate(f.first_seen_at), isNum(f.age_s) ? el("span", "sub", fmtDuration(f.age_s) + " open") : null),
      },
    ];
    table = makeTable({
      container: document.getElementById("findings-table"),
      pager: document.getElementById("findings-pager"),
      pageSize: 50,
      rows: findings,
      columns,
      sort: ["severity", 1],
      emptyText: findings.length ? "No open finding matches the filter." : "No open findings.",
      filter: (f) => on.has(f.sev) && matches(f, query),
      onRender: (n) => {
        const totals = data.open_totals || {};
        const listed = isNum(totals.count) && totals.count > findings.length
          ? ` listed (the ${fmtInt(findings.length)} most severe and oldest of ${fmtInt(totals.count)}: kubefort report html --max-findings)`
          : "";
        const parts = [`${fmtInt(n)} of ${fmtInt(findings.length)} open findings${listed}`];
        if (n !== findings.length) {
          const b = el("button", null, "clear filter");
          b.type = "button";
          b.addEventListener("click", () => setFilter(""));
          parts.push(" — ", b);
        }
        countNode.replaceChildren(...parts);
      },
    });
    input.addEventListener("input", () => { query = parseQuery(input.value); table.refresh(); });
    function setFilter(text) {
      input.value = text;
      query = parseQuery(text);
      for (const label of sevBox.querySelectorAll("label")) {
        const cb = label.querySelector("input");
        cb.checked = true;
        on.add(cb.value);
        label.classList.remove("off");
      }
      table.refresh();
    }
    return (text) => {
      setFilter(text);
      document.getElementById("findings").scrollIntoView({ block: "start" });
    };
  }

  function scansSection(data) {
    const scans = data.scans || [];
    const input = document.getElementById("scans-filter");
    const countNode = document.getElementById("scans-count");
    const hay = new Map(scans.map((s) => [s, [s.uid, s.target, s.kind, fmtTime(s.finished_at), s.complete ? "complete" : "incomplete"].map(str).join(" ").toLowerCase()]));
    let words = [];
    const failed = (s) => SEVS.reduce((a, sev) => a + (isNum((s.failed_by_severity || {})[sev]) ? s.failed_by_severity[sev] : 0), 0);
    const sevCol = (sev) => ({
      key: sev, label: sev, cls: "num inline", cardLabel: sev, firstDir: -1,
      sort: (s) => ((s.failed_by_severity || {})[sev] ?? null),
      render: (s) => fmtInt((s.failed_by_severity || {})[sev]),
    });
    const table = makeTable({
      container: document.getElementById("scans-table"),
      pager: document.getElementById("scans-pager"),
      pageSize: 25,
      rows: scans,
      sort: ["finished", -1],
      emptyText: scans.length ? "No scan matches the filter." : "No scans in this period.",
      filter: (s) => words.every((w) => hay.get(s).includes(w)),
      onRender: (n) => countNode.replaceChildren(`${fmtInt(n)} of ${fmtInt(scans.length)} scans`),
      columns: [
        { key: "finished", label: "Finished", firstDir: -1, sort: (s) => (isNum(s.finished_at) ? s.finished_at : null), render: (s) => fmtTime(s.finished_at) },
        { key: "target", label: "Target", sort: (s) => str(s.target), render: (s) => el("span", null, str(s.target), el("span", "sub", str(s.kind) + (s.complete ? "" : " · incomplete"))) },
        { key: "failed", label: "Failed", cls: "num inline", cardLabel: "failed", firstDir: -1, sort: failed, render: (s) => fmtInt(failed(s)) },
        sevCol("critical"), sevCol("high"), sevCol("medium"), sevCol("low"),
        { key: "uid", label: "Scan ID", cls: "inline", cardLabel: "scan", sort: (s) => str(s.uid), render: (s) => el("span", "mono", str(s.uid).slice(0, 12)) },
      ],
    });
    input.addEventListener("input", () => { words = input.value.trim().toLowerCase().split(/\s+/).filter(Boolean); table.refresh(); });
  }

  /* ---------- main ---------- */
  function guarded(id, fn) {
    try {
      fn();
    } catch (err) {
      const box = document.getElementById(id);
      if (box) box.append(el("p", "render-error", "This part of the report could not be drawn: " + (err && err.message ? err.message : String(err))));
      console.error("kubefort report:", id, err);
    }
  }

  function main() {
    const data = readData();
    const findings = decodeFindings(data.open_findings);
    let pick = () => {};
    guarded("summary", () => summary(data, findings));
    guarded("metrics", () => metricsTable(data));
    guarded("findings", () => { pick = findingsSection(data, findings); });
    guarded("scans", () => scansSection(data));
    const charts = () => {
      guarded("severity", () => severityChart(data));
      guarded("top", () => topCharts(data, (q) => pick(q)));
      guarded("ttr", () => { ttrChart(data); flowChart(data); });
      guarded("frameworks", () => frameworksChart(data));
    };
    charts();
    let lastWidth = document.documentElement.clientWidth, timer = 0;
    window.addEventListener("resize", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (document.documentElement.clientWidth !== lastWidth) { lastWidth = document.documentElement.clientWidth; charts(); }
      }, 120);
    });
    window.kubefortReport = { renderedAt: performance.now(), findings: findings.length, pick: (q) => pick(q) };
    document.documentElement.setAttribute("data-kf-ready", "1");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
