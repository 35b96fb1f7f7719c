// Attendance over time as an inline SVG chart (no library), with the same data as a table for
// screen readers and keyboard users.

import { h } from "./dom.js";
import { t, formatTime, formatNumber } from "./page.js";

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function niceMax(value) {
  if (value <= 5) return 5;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/** ``minutes``: [{minute: iso, present: n}] in time order. */
export function attendanceChart(minutes, { timeZone, idBase = "chart", width: wanted = 720 } = {}) {
  // drawn at the size it is shown, so labels stay readable on a phone
  const width = Math.round(Math.max(300, Math.min(960, wanted)));
  const height = Math.round(Math.max(180, Math.min(280, width * 0.4)));
  const pad = { left: 44, right: 12, top: 12, bottom: 32 };
  const w = width - pad.left - pad.right;
  const hgt = height - pad.top - pad.bottom;
  const times = minutes.map((m) => Date.parse(m.minute));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times, t0 + 60000);
  const peak = Math.max(0, ...minutes.map((m) => m.present));
  const top = niceMax(peak);
  const x = (ms) => pad.left + ((ms - t0) / (t1 - t0)) * w;
  const y = (n) => pad.top + hgt - (n / top) * hgt;
  const points = minutes.map((m, i) => `${x(times[i]).toFixed(1)},${y(m.present).toFixed(1)}`);
  const area = points.length ? `M${x(t0)},${y(0)} L${points.join(" L")} L${x(times[times.length - 1])},${y(0)} Z` : "";
  const titleId = `${idBase}-title`;
  const descId = `${idBase}-desc`;
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-labelledby": `${titleId} ${descId}`, preserveAspectRatio: "xMidYMid meet" },
    s("title", { id: titleId }, t("chart.title")),
    s("desc", { id: descId }, t("chart.desc", {
      peak: formatNumber(peak),
      from: formatTime(new Date(t0).toISOString(), timeZone),
      to: formatTime(new Date(t1).toISOString(), timeZone),
    })),
  );
  for (let i = 0; i <= 4; i += 1) {
    const value = (top / 4) * i;
    svg.append(
      s("line", { x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value), class: "grid" }),
      s("text", { x: pad.left - 6, y: y(value) + 4, class: "axis", "text-anchor": "end" }, formatNumber(Math.round(value))),
    );
  }
  const steps = [900000, 1800000, 3600000, 7200000, 14400000];
  const stepMs = steps.find((step) => (step / (t1 - t0)) * w >= 64) || steps[steps.length - 1];
  for (let tick = Math.ceil(t0 / stepMs) * stepMs; tick <= t1; tick += stepMs) {
    svg.append(
      s("line", { x1: x(tick), x2: x(tick), y1: pad.top + hgt, y2: pad.top + hgt + 4, class: "tick" }),
      s("text", { x: x(tick), y: height - 10, class: "axis", "text-anchor": "middle" }, formatTime(new Date(tick).toISOString(), timeZone)),
    );
  }
  if (area) svg.append(s("path", { d: area, class: "area" }), s("polyline", { points: points.join(" "), class: "line" }));
  svg.append(s("line", { x1: pad.left, x2: pad.left, y1: pad.top, y2: pad.top + hgt, class: "axis-line" }));
  return svg;
}

/** The same data as a table, every 5 minutes (and the peak), inside a disclosure. */
export function attendanceTable(minutes, timeZone) {
  const rows = minutes.filter((m, i) => i % 5 === 0 || i === minutes.length - 1);
  return h(
    "details",
    { class: "data-table" },
    h("summary", {}, t("chart.as_table")),
    h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("chart.title") },
      h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("chart.time")), h("th", { scope: "col" }, t("chart.present")))),
        h("tbody", {}, rows.map((m) => h("tr", {}, h("td", {}, formatTime(m.minute, timeZone)), h("td", {}, formatNumber(m.present))))),
      ),
    ),
  );
}
