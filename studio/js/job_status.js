// How a job's state reads in the job page and the job lists: a progress bar that says failure in colour and
// words, and who started the job.
import { h } from "./dom.js";

const CLIENTS = { studio: "studio", cli: "mlbatch CLI" };

const ENDED = { Completed: "completed", Failed: "failed", Canceled: "canceled" };

export function progressBar(job, attrs = {}) {
  const percent = Math.round((job.progress || 0) * 100);
  const kind = ENDED[job.status] || "running";
  const words = kind === "running" ? `${percent}%` :
    job.status + (kind !== "completed" && percent < 100 ? ` at ${percent}%` : "");
  return h("div", { class: `bar-progress ${kind}`, role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100,
    "aria-valuenow": percent, "aria-valuetext": words, dataset: { status: job.status }, ...attrs },
  h("span", { class: "fill", style: `width: ${percent}%` }),
  h("span", { class: "words" }, words));
}

export function startedBy(job) {
  const source = job.source || { kind: "invoke" };
  if (source.kind === "schedule") return `schedule ${source.schedule}`;
  if (source.kind === "inbox") return "inbox (dropped files)";
  return CLIENTS[source.client] || "API (scoring URI)";
}
