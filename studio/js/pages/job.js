// Job details: status, progress bar, counts, pictures of its mini-batches and predictions, logs, per-mini-batch
// errors, downloads, cancel; refreshed until the job ends.
import { api, downloadUrl } from "../api.js";
import { h, confirmDialog, duration, mount, notice, showErrors, table, when } from "../dom.js";
import { predictionsPreview, rowsPerSecond, timeline } from "../job_pictures.js";
import { progressBar, startedBy } from "../job_status.js";

const TERMINAL = ["Completed", "Failed", "Canceled"];
const REFRESH_MS = 2000;
const OVERVIEW_LOG = "logs/job_progress_overview.txt";

export async function render(main, { name }) {
  const path = `jobs/${encodeURIComponent(name)}`;
  let timer = null;
  let stopped = false;
  let endpointGone = null;
  let preview = null;  // read once: the predictions file is committed when the job ends
  const refresh = async () => {
    const job = await api.get(path);
    const [batches, outputs] = await Promise.all([
      api.list(`${path}/mini-batches`), api.list(`${path}/outputs`)]);
    const overview = outputs.some((f) => f.path === OVERVIEW_LOG)
      ? await api.get(`${path}/outputs/${OVERVIEW_LOG}`).catch(() => "") : "";
    if (endpointGone === null) {
      endpointGone = await api.get(`batchEndpoints/${encodeURIComponent(job.endpoint)}`)
        .then(() => false, (error) => error.status === 404);
    }
    const predictions = outputs.find((f) => f.path === job.output.file_name);
    if (!preview && predictions && TERMINAL.includes(job.status)) {
      preview = await predictionsPreview(path, predictions.path).catch((error) =>
        h("p", { class: "form-error" }, `The predictions could not be read: ${error.message}`));
    }
    if (stopped) return;
    draw(main, { job, batches, outputs, overview, path, endpointGone, preview });
    if (TERMINAL.includes(job.status)) clearInterval(timer);
  };
  await refresh();
  timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  return () => { stopped = true; clearInterval(timer); };
}

function previewPart(job, preview) {
  if (preview) return preview;
  if (job.settings.output_action === "summary_only") {
    return h("p", { class: "empty" }, "The job writes no predictions file (output_action summary_only).");
  }
  return h("p", { class: "empty" }, TERMINAL.includes(job.status)
    ? "No predictions file: a job that fails or is canceled commits none."
    : "The predictions file is written when the job completes.");
}

function draw(main, { job, batches, outputs, overview, path, endpointGone, preview }) {
  const counts = job.counts;
  const ended = TERMINAL.includes(job.status);
  const cancel = h("button", { type: "button", class: "danger", onclick: async () => {
    if (!await confirmDialog(`Cancel job ${job.name}?`, "Mini-batches not yet started are skipped; the job ends as Canceled.",
      "Cancel job")) return;
    try {
      await api.post(`${path}/cancel`, {});
      notice(`Cancel requested for ${job.name}.`);
    } catch (error) { showErrors(main.querySelector(".job-head"), error); }
  } }, "Cancel job");
  const failed = batches.filter((b) => b.status === "failed");
  mount(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/endpoints" }, "Endpoints"), " / ",
      endpointGone ? `${job.endpoint} (deleted)`
        : h("a", { href: `#/endpoints/${encodeURIComponent(job.endpoint)}/jobs` }, job.endpoint),
      " / ", job.name),
    endpointGone ? h("div", { class: "note", role: "note", "data-testid": "endpoint-gone" },
      `The endpoint ${job.endpoint} was deleted. This job's record, logs and outputs stay; new jobs need another ` +
      "endpoint. ", h("a", { href: "#/endpoints" }, "Back to endpoints")) : null,
    h("div", { class: "page-head job-head" },
      h("h1", {}, "Job ", h("span", { class: "mono" }, job.name)),
      h("span", { class: `status ${job.status.toLowerCase()}`, id: "job-status" }, job.status),
      ended ? null : cancel),
    h("div", { class: "progress-row" },
      progressBar(job, { id: "job-progress" }),
      h("span", {}, `${counts.mini_batches_done + counts.mini_batches_failed} of ${counts.mini_batches} mini-batches`)),
    job.error ? h("div", { class: "form-error", role: "alert" }, `${job.error.code}: ${job.error.message}`) : null,
    h("div", { class: "columns" },
      h("dl", { class: "facts" },
        h("dt", {}, "Deployment"), h("dd", {}, job.deployment),
        h("dt", {}, "Model"), h("dd", {}, job.model),
        h("dt", {}, "Input"), h("dd", {}, job.input.given || job.input.uri),
        h("dt", {}, "Output"), h("dd", {}, h("code", {}, job.output.uri)),
        h("dt", {}, "Started by"), h("dd", { id: "started-by" }, startedBy(job)),
        h("dt", {}, "Created"), h("dd", {}, when(job.created_at)),
        h("dt", {}, "Started"), h("dd", {}, when(job.started_at)),
        h("dt", {}, "Ended"), h("dd", {}, when(job.ended_at)),
        h("dt", {}, "Duration"), h("dd", {}, duration(job.duration_seconds))),
      h("dl", { class: "facts counts" },
        h("dt", {}, "Files"), h("dd", { id: "count-files" }, counts.files),
        h("dt", {}, "Mini-batches"), h("dd", {}, counts.mini_batches),
        h("dt", {}, "Mini-batches done"), h("dd", {}, counts.mini_batches_done),
        h("dt", {}, "Mini-batches failed"), h("dd", {}, counts.mini_batches_failed),
        h("dt", {}, "Files failed"), h("dd", {}, counts.files_failed),
        h("dt", {}, "Rows scored"), h("dd", { id: "count-rows" }, counts.rows_scored))),
    h("h2", {}, "Mini-batch timeline"),
    timeline(job, batches),
    h("h2", {}, "Rows per second"),
    rowsPerSecond(batches),
    h("h2", {}, "Predictions preview"),
    previewPart(job, preview),
    h("h2", {}, "Outputs and logs"),
    table([
      ["File", (f) => h("a", { href: downloadUrl(f.download_url), download: f.path.split("/").pop() }, f.path)],
      ["Size", (f) => `${f.size.toLocaleString()} bytes`],
    ], outputs, { empty: "No outputs yet." }),
    h("h2", {}, "Errors per mini-batch"),
    table([
      ["Mini-batch", (b) => b.index],
      ["Files", (b) => (b.failed_files || []).join(", ")],
      ["Attempts", (b) => b.attempts],
      ["Error", (b) => h("pre", { class: "error-text" }, b.error || "")],
    ], failed, { empty: "No mini-batch failed." }),
    h("h2", {}, "Job log"),
    h("pre", { class: "log", id: "job-log" }, overview || "(no log yet)"));
}
