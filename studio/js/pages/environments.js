// Environments: the registered environments and their versions (conda file, image), and what each deployment
// scores in: its environment's build state and build log, a failed build's log shown open.
import { api } from "../api.js";
import { h, mount, table, when } from "../dom.js";
import { versionsSection } from "../versions.js";

function condaText(conda) {
  if (conda === null || conda === undefined) return "(none: the image alone, kept for reference)";
  return typeof conda === "string" ? conda : JSON.stringify(conda, null, 2);
}

function state(value) {
  return h("span", { class: `state ${String(value).toLowerCase()}` }, value);
}

function deploymentPath(d) {
  return `batchEndpoints/${encodeURIComponent(d.endpoint_name)}/deployments/${encodeURIComponent(d.name)}`;
}

/** A deployment's build log, read when opened; a failed build's is read and opened at once. */
function buildLog(d) {
  const body = h("div", {}, h("p", { class: "loading" }, "Loading..."));
  let read = false;
  const load = async () => {
    if (read) return;
    read = true;
    try {
      const built = await api.get(`${deploymentPath(d)}/environment`);
      mount(body,
        h("p", {}, "Build ", state(built.state), built.ended_at ? ` (ended ${when(built.ended_at)})` : "",
          built.python ? [", interpreter ", h("code", {}, built.python)] : ""),
        h("pre", { class: "log" }, built.log || "(no output yet)"));
    } catch (error) {
      read = false;
      mount(body, h("p", { class: "form-error" }, `${error.code}: ${error.message}`));
    }
  };
  const failed = d.provisioning_state === "Failed";
  const details = h("details", { class: "build", open: failed, "data-testid": "build-log",
    dataset: { deployment: `${d.endpoint_name}/${d.name}`, state: d.provisioning_state },
    ontoggle: () => { if (details.open) load(); } },
  h("summary", {}, `${d.endpoint_name} / ${d.name}: `, state(d.provisioning_state)), body);
  if (failed) load();
  return details;
}

export async function render(main) {
  const [environments, endpoints] = await Promise.all([api.list("environments"), api.list("batchEndpoints")]);
  const deployments = (await Promise.all(endpoints.map((e) =>
    api.list(`batchEndpoints/${encodeURIComponent(e.name)}/deployments`).catch(() => [])))).flat();
  const versions = versionsSection("environment-versions", "environments", [
    ["Version", (v) => v.version],
    ["Image", (v) => v.image || ""],
    ["Conda file", (v) => h("pre", { class: "log short" }, condaText(v.conda_file))],
    ["Created", (v) => when(v.created_at)],
  ]);
  const built = deployments.filter((d) => d.environment_key);
  mount(main,
    h("div", { class: "page-head" }, h("h1", {}, "Environments")),
    h("p", { class: "help" }, "What the scoring code runs in: a conda file's pip packages, built with uv into a " +
      "Python environment of its own when a deployment names it. An image is kept and shown, not run."),
    h("h2", {}, "Registered environments"),
    table([
      ["Name", (e) => h("button", { type: "button", class: "link", onclick: () => versions.show(e.name) }, e.name)],
      ["Latest version", (e) => e.version],
      ["Image", (e) => e.image || ""],
      ["Description", (e) => e.description || ""],
      ["Created", (e) => when(e.created_at)],
    ], environments, { empty: "No environments registered: create one with " +
      "`mlbatch environment create --file environment.yml`, or give a deployment an inline conda file." }),
    versions.element,
    h("h2", {}, "Deployments' environments"),
    table([
      ["Endpoint", (d) => h("a", { href: `#/endpoints/${encodeURIComponent(d.endpoint_name)}` }, d.endpoint_name)],
      ["Deployment", (d) => d.name],
      ["Environment", (d) => (typeof d.environment === "string" ? d.environment :
        d.environment ? "inline" : d.environment_key ? "the model's own" : "the app's own")],
      ["Built from", (d) => (d.environment_spec ? d.environment_spec.source : "the app's environment, nothing to build")],
      ["State", (d) => state(d.provisioning_state)],
    ], deployments, { empty: "No deployments yet." }),
    built.length ? h("h2", {}, "Build logs") : null,
    built.map(buildLog));
}
