// Pictures of a job drawn from its own records: the mini-batch timeline, rows per second, and a preview of
// the predictions file read from its first bytes.
import { readStart } from "./api.js";
import { h, table } from "./dom.js";
import { columnChart, niceStep, round, s } from "./svg.js";

export const PREVIEW_BYTES = 65536;
const PREVIEW_ROWS = 10;
const MAX_CLASSES = 15;
const HISTOGRAM_BINS = 10;
const STATES = [["succeeded", "Succeeded"], ["failed", "Failed"], ["canceled", "Canceled"]];

function timed(batches) {
  return batches.filter((b) => b.started_at && b.ended_at)
    .map((b) => ({ ...b, start: Date.parse(b.started_at), end: Date.parse(b.ended_at) }))
    .sort((a, b) => a.start - b.start || a.index - b.index);
}

/** Greedy interval packing: in start order, each interval takes the first lane free by its start. */
export function packLanes(intervals) {
  const ends = [];
  return intervals.map((interval) => {
    let lane = ends.findIndex((end) => end <= interval.start);
    if (lane < 0) lane = ends.push(0) - 1;
    ends[lane] = interval.end;
    return lane;
  });
}

function seconds(value) {
  return value < 60 ? `${round(value)}s` : `${Math.floor(value / 60)}m ${Math.round(value % 60)}s`;
}

function timeAxis(span, x, y) {
  const step = niceStep(span / 8);
  const ticks = [];
  for (let t = 0; t <= span + step / 1000; t += step) {
    ticks.push(s("line", { x1: x(t), x2: x(t), y1: 0, y2: y, class: "grid" }),
      s("text", { x: x(t), y: y + 16, class: "axis", "text-anchor": "middle" }, seconds(t)));
  }
  return ticks;
}

function legend(items) {
  return h("ul", { class: "legend", "data-testid": "timeline-legend" }, items.map(([kind, text]) =>
    h("li", {}, h("span", { class: `swatch ${kind}` }), text)));
}

/** One bar per mini-batch from started_at to ended_at, packed into lanes: one lane per slot in use at once. */
export function timeline(job, batches) {
  const bars = timed(batches);
  if (!bars.length) return h("p", { class: "empty" }, "No mini-batch has ended yet.");
  const lanes = packLanes(bars);
  const laneCount = Math.max(...lanes) + 1;
  const first = Math.min(...bars.map((b) => b.start));
  const span = Math.max((Math.max(...bars.map((b) => b.end)) - first) / 1000, 0.001);
  const width = 1000, left = 64, right = 16, lane = 22, gap = 6;
  const plotHeight = laneCount * (lane + gap);
  const x = (t) => left + (t / span) * (width - left - right);
  const slots = job.resources.instance_count * job.settings.max_concurrency_per_instance;
  const untimed = batches.length - bars.length;
  const retried = bars.filter((b) => b.attempts > 1).length;
  const picture = s("svg", { viewBox: `0 0 ${width} ${plotHeight + 24}`, class: "chart timeline", role: "img",
    "aria-label": "Mini-batch timeline", "data-testid": "timeline" },
  timeAxis(span, x, plotHeight),
  Array.from({ length: laneCount }, (_, number) => s("text", { x: left - 8, y: number * (lane + gap) + lane - 6,
    class: "axis", "text-anchor": "end" }, `lane ${number + 1}`)),
  bars.map((bar, number) => {
    const x0 = x((bar.start - first) / 1000), top = lanes[number] * (lane + gap);
    const barWidth = Math.max(x((bar.end - first) / 1000) - x0, 2);
    const what = `Mini-batch ${bar.index}: ${bar.status}, ${bar.rows} rows, ${bar.attempts} attempt` +
      `${bar.attempts === 1 ? "" : "s"}, ${seconds((bar.end - bar.start) / 1000)}` +
      (bar.failed_files && bar.failed_files.length ? `; failed files: ${bar.failed_files.join(", ")}` : "");
    return s("g", {},
      s("rect", { x: x0, y: top, width: barWidth, height: lane, rx: 2, title: what,
        class: `bar ${bar.status}${bar.attempts > 1 ? " retried" : ""}`, "data-testid": "timeline-bar",
        dataset: { index: bar.index, status: bar.status, attempts: bar.attempts, lane: lanes[number] } }),
      bar.attempts > 1 ? s("text", { x: x0 + 3, y: top + lane - 7, class: "retry-mark", "data-testid": "retry-marker",
        dataset: { index: bar.index } }, `×${bar.attempts}`) : null);
  }));
  return h("div", {},
    h("p", { class: "help" }, `${bars.length} mini-batch${bars.length === 1 ? "" : "es"} in ${laneCount} ` +
      `lane${laneCount === 1 ? "" : "s"} (the job runs at most ${slots} at once)` +
      (retried ? `; ${retried} needed more than one attempt (×N: attempts)` : "") +
      (untimed ? `; ${untimed} without times are not drawn` : "") + "."),
    picture,
    legend([...STATES, ["retried", "More than one attempt"]]));
}

/** Rows scored per second, each mini-batch's rows counted when it ended, in equal steps over the job. */
export function rowsPerSecond(batches) {
  const bars = timed(batches);
  if (!bars.length) return h("p", { class: "empty" }, "No mini-batch has ended yet.");
  const first = Math.min(...bars.map((b) => b.start));
  const span = Math.max((Math.max(...bars.map((b) => b.end)) - first) / 1000, 0.001);
  const step = Math.max(0.01, niceStep(span / 20));
  const count = Math.max(1, Math.ceil(span / step));
  const rows = new Array(count).fill(0);
  for (const bar of bars) rows[Math.min(count - 1, Math.floor((bar.end - first) / 1000 / step))] += bar.rows;
  const every = Math.ceil(count / 10);
  const total = rows.reduce((sum, value) => sum + value, 0);
  return h("div", {},
    h("p", { class: "help" }, `${total.toLocaleString()} rows in ${seconds(span)}, ` +
      `${round(total / span)} rows/s on average; each mini-batch's rows counted in the ${seconds(step)} step ` +
      "in which it ended."),
    columnChart(rows.map((value, number) => ({
      value: value / step, testid: "rate-bar", dataset: { rows: value },
      title: `${seconds(number * step)}–${seconds((number + 1) * step)}: ${value} rows (${round(value / step)} rows/s)`,
      label: number % every === 0 ? seconds(number * step) : undefined,
    })), { label: "Rows per second", testid: "rows-per-second" }));
}

/** CSV records (quoted fields as RFC 4180 has them) and whether the text ended inside the last record. */
export function parseCsv(text) {
  const records = [];
  let record = [], value = "", quoted = false, started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c !== '"') value += c;
      else if (text[i + 1] === '"') { value += '"'; i++; } else quoted = false;
    } else if (c === '"' && value === "") {
      quoted = started = true;
    } else if (c === ",") {
      record.push(value); value = ""; started = true;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      record.push(value); records.push(record);
      record = []; value = ""; started = false;
    } else {
      value += c; started = true;
    }
  }
  const cut = started || quoted;
  if (cut) { record.push(value); records.push(record); }
  return { records, cut };
}

function predictionColumn(columns) {
  if (columns.includes("prediction")) return "prediction";
  return [...columns].reverse().find((name) => !["file_name", "row"].includes(name)) || columns.at(-1);
}

function classBars(counts, total) {
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
  const shown = sorted.slice(0, MAX_CLASSES);
  const rest = sorted.slice(MAX_CLASSES).reduce((sum, [, count]) => sum + count, 0);
  const width = 1000, left = 180, line = 24, most = shown[0][1];
  const scale = (count) => (count / most) * (width - left - 120);
  const rows = rest ? [...shown, [`(${sorted.length - MAX_CLASSES} other values)`, rest, true]] : shown;
  return s("svg", { viewBox: `0 0 ${width} ${rows.length * line + 4}`, class: "chart", role: "img",
    "aria-label": "Prediction classes", "data-testid": "distribution" },
  rows.map(([value, count, others], number) => s("g", {},
    s("text", { x: left - 8, y: number * line + 16, class: "axis", "text-anchor": "end" },
      String(value).length > 24 ? `${String(value).slice(0, 23)}…` : String(value)),
    s("rect", { x: left, y: number * line + 3, height: line - 6, width: Math.max(scale(count), 1),
      class: `bar class${others ? " others" : ""}`, title: `${value}: ${count} of ${total}`,
      "data-testid": others ? "dist-others" : "dist-bar", dataset: { value, count } }),
    s("text", { x: left + scale(count) + 6, y: number * line + 16, class: "axis" },
      `${count} (${round((100 * count) / total)}%)`))));
}

function histogram(numbers) {
  const low = Math.min(...numbers), high = Math.max(...numbers);
  const size = (high - low) / HISTOGRAM_BINS || 1;
  const counts = new Array(HISTOGRAM_BINS).fill(0);
  for (const value of numbers) counts[Math.min(HISTOGRAM_BINS - 1, Math.floor((value - low) / size))] += 1;
  return columnChart(counts.map((count, number) => ({
    value: count, testid: "dist-bar", dataset: { count, from: low + number * size, to: low + (number + 1) * size },
    title: `${round(low + number * size)} to ${round(low + (number + 1) * size)}: ${count}`,
    label: round(low + number * size),
  })), { label: "Histogram of the predictions", testid: "distribution" });
}

/** The distribution of a column: classes as bars, or a histogram of numbers with many distinct values. */
export function distribution(values) {
  const present = values.filter((value) => value !== "");
  if (!present.length) return h("p", { class: "empty" }, "The column is empty in these rows.");
  const numbers = present.map(Number);
  const counts = new Map();
  for (const value of present) counts.set(value, (counts.get(value) || 0) + 1);
  if (numbers.every(Number.isFinite) && counts.size > HISTOGRAM_BINS) return histogram(numbers);
  return classBars(counts, present.length);
}

/** The first rows of the predictions file and its prediction column's distribution, from its first 64 KB. */
export async function predictionsPreview(path, fileName) {
  const { text, whole } = await readStart(`${path}/outputs/${fileName.split("/").map(encodeURIComponent).join("/")}`,
    PREVIEW_BYTES);
  const { records, cut } = parseCsv(text);
  if (cut && !whole) records.pop();  // the range ended inside this record
  const [columns = [], ...rows] = records;
  if (!rows.length) return h("p", { class: "empty" }, `${fileName} holds no rows.`);
  const column = predictionColumn(columns);
  const at = columns.indexOf(column);
  const scope = whole ? `all ${rows.length.toLocaleString()} rows` : `the first ${rows.length.toLocaleString()} rows`;
  return h("div", { "data-testid": "predictions-preview", dataset: { rows: rows.length, whole: String(whole) } },
    h("p", { class: "help" }, `The first ${Math.min(PREVIEW_ROWS, rows.length)} of ${scope} of ${fileName}` +
      (whole ? "." : ` (its first ${PREVIEW_BYTES / 1024} KB).`)),
    h("div", { class: "scroll", "data-testid": "preview-table" },
      table(columns.map((name, index) => [name, (row) => row[index] ?? ""]), rows.slice(0, PREVIEW_ROWS))),
    h("h3", {}, `Distribution of ${column} in ${scope}`),
    distribution(rows.map((row) => row[at] ?? "")));
}
