// Endpoint details: scoring URI, deployments (default marked, update default, add, delete), delete endpoint;
// the Jobs tab (auto-refreshing); the Schedules & inbox tab.
import { api } from "../api.js";
import { h, confirmDialog, duration, mount, notice, prose, select, showErrors, table, when } from "../dom.js";
import { progressBar, startedBy } from "../job_status.js";

const REFRESH_MS = 3000;

export async function render(main, { name, tab }) {
  const path = `batchEndpoints/${encodeURIComponent(name)}`;
  const endpoint = await api.get(path).catch((error) => {
    if (error.status !== 404) throw error;
    return null;
  });
  if (!endpoint) {
    mount(main, h("h1", {}, name), h("div", { class: "note", role: "note", "data-testid": "endpoint-gone" },
      `There is no endpoint ${name}: it was deleted, or never made. Its jobs stay readable from their own pages. `,
      h("a", { href: "#/endpoints" }, "Back to endpoints")));
    return null;
  }
  const link = (target, text) => h("a", { href: `#/endpoints/${encodeURIComponent(name)}${target}`,
    class: (target.slice(1) || "details") === tab ? "tab active" : "tab" }, text);
  const body = h("section", { class: "tab-body" });
  mount(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/endpoints" }, "Endpoints"), " / ", name),
    h("div", { class: "page-head" }, h("h1", {}, name),
      h("a", { class: "button primary", href: `#/endpoints/${encodeURIComponent(name)}/jobs/new` }, "+ Create job")),
    h("nav", { class: "tabs" }, link("", "Details"), link("/jobs", "Jobs"), link("/schedules", "Schedules & inbox")),
    body);
  if (tab === "jobs") return jobsTab(body, endpoint);
  if (tab === "schedules") return schedulesTab(body, endpoint);
  return detailsTab(body, endpoint, path);
}

async function detailsTab(body, endpoint, path) {
  const deployments = await api.list(`${path}/deployments`);
  const current = endpoint.defaults?.deployment_name;
  const uri = h("code", { class: "uri", id: "scoring-uri" }, endpoint.scoring_uri);
  const copy = h("button", { type: "button", onclick: async () => {
    await copyText(endpoint.scoring_uri);
    copy.textContent = "Copied";
    setTimeout(() => { copy.textContent = "Copy"; }, 1500);
  } }, "Copy");
  const choice = select(deployments.map((d) => d.name), { name: "default-deployment", value: current || "" });
  const area = h("div", { class: "card" });
  const update = h("form", { class: "inline", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api.patch(path, { defaults: { deployment_name: choice.value } });
      notice(`${choice.value} is now the default deployment.`);
      await detailsTab(body, await api.get(path), path);
    } catch (error) { showErrors(update, error); }
  } }, h("label", {}, "Default deployment ", choice), h("button", { type: "submit" }, "Update default deployment"));

  const remove = async (deployment) => {
    if (!await confirmDialog(`Delete deployment ${deployment.name}?`,
      `The deployment ${deployment.name} of ${endpoint.name} is deleted; its jobs and their outputs stay.`)) return;
    try {
      await api.del(`${path}/deployments/${encodeURIComponent(deployment.name)}`);
      notice(`Deleted deployment ${deployment.name}.`);
      await detailsTab(body, await api.get(path), path);
    } catch (error) { showErrors(area, error); }
  };
  const buildLog = h("div", { id: "build-log" });
  const showBuild = async (deployment) => {
    const built = await api.get(`${path}/deployments/${encodeURIComponent(deployment.name)}/environment`);
    mount(buildLog,
      h("h3", {}, `Environment of ${deployment.name}: `, h("span", { class: `state ${built.state.toLowerCase()}` },
        built.state)),
      built.python ? h("p", {}, "Interpreter ", h("code", {}, built.python)) : null,
      h("pre", { class: "log" }, built.log || "(no output yet)"));
  };
  const removeEndpoint = async () => {
    const names = deployments.map((d) => d.name);
    const message = names.length
      ? `Its ${names.length} deployment${names.length > 1 ? "s" : ""} (${names.join(", ")}) will be deleted too. ` +
        "Jobs and their outputs stay."
      : "It has no deployments. Jobs and their outputs stay.";
    if (!await confirmDialog(`Delete endpoint ${endpoint.name}?`, message)) return;
    try {
      await api.del(path);
      notice(`Deleted endpoint ${endpoint.name}.`, "info", { across: true });
      location.hash = "#/endpoints";
    } catch (error) { showErrors(area, error); }
  };

  mount(area,
    h("div", { class: "page-head" }, h("h2", {}, "Deployments"),
      h("a", { class: "button", href: `#/create?endpoint=${encodeURIComponent(endpoint.name)}` }, "+ Add deployment")),
    table([
      ["Name", (d) => [d.name, d.name === current ? h("span", { class: "badge" }, "default") : null]],
      ["State", (d) => h("span", { class: `state ${String(d.provisioning_state).toLowerCase()}` },
        d.provisioning_state)],
      ["Environment", (d) => h("button", { type: "button", "aria-label": `Environment of ${d.name}`,
        onclick: () => showBuild(d).catch((error) => showErrors(area, error)) },
        d.environment_key ? "Build log" : "App's own")],
      ["Model", (d) => d.model],
      ["Scoring", (d) => (d.code_configuration ? `script ${d.code_configuration.scoring_script}` : "no-code")],
      ["Instances", (d) => d.resources.instance_count],
      ["Concurrency", (d) => d.settings.max_concurrency_per_instance],
      ["Mini-batch size", (d) => d.settings.mini_batch_size],
      ["Output", (d) => (d.settings.output_action === "append_row" ? d.settings.output_file_name : "summary_only")],
      ["Retries / timeout", (d) => `${d.settings.retry_settings.max_retries} / ${d.settings.retry_settings.timeout}s`],
      ["Error threshold", (d) => d.settings.error_threshold],
      ["Logging", (d) => d.settings.logging_level],
      ["", (d) => h("button", { type: "button", class: "danger", "aria-label": `Delete deployment ${d.name}`,
        onclick: () => remove(d) }, "Delete")],
    ], deployments, { empty: "No deployments yet: + Add deployment." }),
    deployments.length ? update : null, buildLog);
  mount(body,
    h("dl", { class: "facts" },
      h("dt", {}, "Scoring URI"), h("dd", {}, uri, " ", copy),
      h("dt", {}, "State"), h("dd", {}, endpoint.provisioning_state),
      h("dt", {}, "Authentication"), h("dd", {}, endpoint.auth_mode),
      h("dt", {}, "Created"), h("dd", {}, when(endpoint.created_at)),
      h("dt", {}, "Description"), h("dd", {}, endpoint.description || "")),
    area,
    h("div", { class: "danger-zone" },
      h("button", { type: "button", class: "danger", onclick: removeEndpoint }, "Delete endpoint")));
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = h("textarea", {}, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

async function jobsTab(body, endpoint) {
  const list = h("div");
  const refresh = async () => {
    const jobs = await api.list(`batchEndpoints/${encodeURIComponent(endpoint.name)}/jobs`);
    mount(list, table([
      ["Name", (j) => h("a", { href: `#/jobs/${encodeURIComponent(j.name)}` }, j.name)],
      ["Status", (j) => h("span", { class: `status ${j.status.toLowerCase()}` }, j.status)],
      ["Created", (j) => when(j.created_at)],
      ["Duration", (j) => duration(j.duration_seconds ?? (j.started_at ? (Date.now() - Date.parse(j.started_at)) / 1000 : null))],
      ["Deployment", (j) => j.deployment],
      ["Progress", (j) => progressBar(j)],
      ["Started by", (j) => startedBy(j)],
    ], jobs, { empty: "No jobs yet: + Create job starts one." }));
  };
  mount(body, h("p", { class: "help" }, "Refreshes every few seconds."), list);
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  return () => clearInterval(timer);
}

function describeTrigger(trigger) {
  if (trigger.type === "cron") return `cron ${trigger.expression} (${trigger.time_zone || "UTC"})`;
  return `every ${trigger.interval} ${trigger.frequency}${trigger.interval > 1 ? "s" : ""}`;
}

async function schedulesTab(body, endpoint) {
  const [schedules, inboxFiles] = await Promise.all([
    api.list("schedules", { query: { endpoint: endpoint.name } }),
    api.list(`batchEndpoints/${encodeURIComponent(endpoint.name)}/inbox`).catch(() => [])]);
  const toggle = async (schedule) => {
    await api.post(`schedules/${encodeURIComponent(schedule.name)}/${schedule.is_enabled ? "disable" : "enable"}`, {});
    await schedulesTab(body, endpoint);
  };
  const inbox = endpoint.inbox;
  mount(body,
    h("h2", {}, "Schedules"),
    table([
      ["Name", (s) => s.name],
      ["Trigger", (s) => describeTrigger(s.trigger)],
      ["Enabled", (s) => (s.is_enabled ? "yes" : "no")],
      ["Last run", (s) => (s.last_run ? [when(s.last_run.occurrence), " ",
        s.last_run.name ? h("a", { href: `#/jobs/${encodeURIComponent(s.last_run.name)}` }, "job") : ""] : "")],
      ["Next run", (s) => when(s.next_run)],
      ["", (s) => h("button", { type: "button", onclick: () => toggle(s) }, s.is_enabled ? "Disable" : "Enable")],
    ], schedules, { empty: "No schedules: create one with `mlbatch schedule create --file schedule.yml`." }),
    h("h2", {}, "Inbox"),
    inbox ? h("dl", { class: "facts" },
      h("dt", {}, "Enabled"), h("dd", {}, inbox.enabled ? "yes" : "no"),
      h("dt", {}, "Drop files at"), h("dd", {}, h("code", {},
        `azureml://datastores/${inbox.datastore}/paths/${inbox.path || `inbox/${endpoint.name}/`}`)),
      h("dt", {}, "Debounce"), h("dd", {}, `${inbox.debounce_seconds}s`),
      h("dt", {}, "Deployment"), h("dd", {}, inbox.deployment_name || "the default")) :
      h("p", { class: "empty" }, prose("No inbox: set `inbox` on the endpoint to score files dropped in a folder.")),
    inbox ? table([
      ["File", (f) => f.name],
      ["Arrived", (f) => when(f.arrived_at)],
      ["Status", (f) => f.status],
      ["Job", (f) => (f.job ? h("a", { href: `#/jobs/${encodeURIComponent(f.job)}` }, f.job) : f.error || "")],
    ], inboxFiles, { empty: "No files dropped yet." }) : null);
}
