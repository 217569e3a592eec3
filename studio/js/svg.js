// Inline SVG pictures without a chart library: an element builder like dom.js's h, nice axis steps, and a
// column chart (rows per second, histograms).
const NS = "http://www.w3.org/2000/svg";

/** s("rect", {x: 1, class: "bar"}, child, "text"): an SVG element; a `title` attribute becomes a tooltip. */
export function s(tag, attrs = {}, ...children) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "title") element.append(s("title", {}, value));
    else if (name === "dataset") Object.entries(value).forEach(([key, item]) => element.setAttribute(`data-${key}`, item));
    else element.setAttribute(name, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** The smallest of 1, 2, 2.5, 5 x 10^n that is at least `raw`. */
export function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((factor) => factor * power).find((step) => step >= raw * (1 - 1e-9));
}

export function round(value) {
  return Number(value.toPrecision(3)).toLocaleString();
}

/**
 * Vertical columns with a value axis. Each column: {value, title, dataset, label?}; labels are shown under
 * their column (give every few a label when there are many).
 */
export function columnChart(columns, { label, testid, height = 180, width = 1000 } = {}) {
  const left = 56, bottom = 34, top = 10;
  const plot = height - bottom - top;
  const highest = Math.max(0, ...columns.map((c) => c.value));
  const step = niceStep(highest / 4);
  const ceiling = Math.max(step * Math.ceil(highest / step), step);
  const slot = (width - left - 8) / Math.max(columns.length, 1);
  const y = (value) => top + plot - (value / ceiling) * plot;
  const grid = [];
  for (let value = 0; value <= ceiling + step / 2; value += step) {
    grid.push(s("line", { x1: left, x2: width - 8, y1: y(value), y2: y(value), class: "grid" }),
      s("text", { x: left - 6, y: y(value) + 4, class: "axis", "text-anchor": "end" }, round(value)));
  }
  return s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label,
    "data-testid": testid },
  grid,
  columns.map((column, index) => [
    s("rect", { x: left + index * slot + 1, width: Math.max(slot - 2, 1), y: y(column.value),
      height: Math.max(top + plot - y(column.value), column.value > 0 ? 1 : 0), class: `bar ${column.kind || ""}`,
      title: column.title, dataset: column.dataset, "data-testid": column.testid }),
    column.label === undefined ? null : s("text", { x: left + (index + 0.5) * slot, y: height - bottom + 16,
      class: "axis", "text-anchor": "middle" }, column.label),
  ]));
}
