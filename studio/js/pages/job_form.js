// + Create job: deployment (default preselected), input (data asset, datastore path picked by browsing, or URL;
// ?input= preselects one), overrides of the deployment's settings, output location, submit.
import { api } from "../api.js";
import { datastoreBrowser } from "../datastore_browser.js";
import { h, clearErrors, field, input, mount, select, showErrors } from "../dom.js";
import { settingsFields } from "../settings.js";

const DATASTORE_URI = /^azureml:\/\/datastores\/([^/]+)\/paths\/(.*)$/;

export async function render(main, { endpoint: name, query = {} }) {
  const path = `batchEndpoints/${encodeURIComponent(name)}`;
  const [endpoint, deployments, assets, datastores] = await Promise.all([
    api.get(path), api.list(`${path}/deployments`), api.list("data"), api.list("datastores")]);
  const storeNames = datastores.map((d) => d.name);

  const deployment = select(deployments.map((d) => [d.name, d.name === endpoint.defaults?.deployment_name
    ? `${d.name} (default)` : d.name]), { name: "deployment", value: endpoint.defaults?.deployment_name || "" });

  // A data asset version or a datastore path chosen elsewhere (the Data page) arrives as ?input=.
  const given = query.input || "";
  const onStore = given.match(DATASTORE_URI);
  const givenAsset = !onStore && given.startsWith("azureml:") ? given.slice("azureml:".length) : "";
  const assetOptions = assets.map((a) => [`${a.name}@latest`, `${a.name} (latest: ${a.version}, ${a.type})`]);
  if (givenAsset && !assetOptions.some(([value]) => value === givenAsset)) {
    assetOptions.unshift([givenAsset, givenAsset.replace(/:(\w+)$/, " (version $1)")]);
  }
  const startKind = onStore ? "datastore" : "asset";
  const kinds = [["asset", "From a data asset"], ["datastore", "From a datastore path"], ["url", "From a URL"]];
  const kindRadios = kinds.map(([value, text]) => h("label", { class: "check" },
    h("input", { type: "radio", name: "input-kind", value, checked: value === startKind }), ` ${text}`));
  const asset = select(assetOptions.length ? assetOptions : [["", "No data assets registered"]],
    { name: "data-asset", value: givenAsset });
  const inputStore = select(storeNames, { name: "input-datastore",
    value: onStore ? onStore[1] : "workspaceblobstore" });
  const inputPath = input({ name: "input-path", placeholder: "folder/ or folder/file.csv",
    value: onStore ? onStore[2] : "" });
  const browserHolder = h("div", { hidden: true });
  const browse = h("button", { type: "button", "aria-expanded": "false", onclick: () => {
    const opening = browserHolder.hidden;
    browserHolder.hidden = !opening;
    browse.setAttribute("aria-expanded", String(opening));
    if (opening) {
      mount(browserHolder, datastoreBrowser(datastores, { datastore: inputStore.value, pickLabel: "Use",
        onPick: (picked) => {
          inputStore.value = picked.datastore;
          inputPath.value = picked.path;
          browserHolder.hidden = true;
          browse.setAttribute("aria-expanded", "false");
        } }));
    }
  } }, "Browse...");
  const url = input({ name: "input-url", placeholder: "https://.../file.csv" });
  const inputType = select([["", "as the input says"], ["uri_folder", "uri_folder"], ["uri_file", "uri_file"]],
    { name: "input-type" });
  const blocks = {
    asset: field("Data asset", asset, { field: "input" }),
    datastore: h("div", {}, h("div", { class: "settings-grid" }, field("Datastore", inputStore),
      field("Path", inputPath, { field: "input" })), browse, browserHolder),
    url: field("URL", url, { field: "input" }),
  };
  const kind = () => kindRadios.map((l) => l.querySelector("input")).find((r) => r.checked).value;
  const syncKind = () => Object.entries(blocks).forEach(([key, block]) => { block.hidden = key !== kind(); });
  kindRadios.forEach((label) => label.addEventListener("change", syncKind));

  const overridesHolder = h("div");
  let overrides = null;
  const buildOverrides = () => {
    const chosen = deployments.find((d) => d.name === deployment.value) || deployments[0];
    overrides = settingsFields(chosen ? { resources: chosen.resources, settings: chosen.settings } : {},
      { overrides: true });
    mount(overridesHolder, overrides.element);
  };
  deployment.addEventListener("change", buildOverrides);

  const outputCustom = h("input", { type: "checkbox", name: "output-custom" });
  const outputStore = select(storeNames, { name: "output-datastore", value: "workspaceblobstore" });
  const outputPath = input({ name: "output-path", placeholder: "results/march/" });
  const outputFile = input({ name: "output-file-name", placeholder: "the deployment's output_file_name" });
  const outputBlock = h("div", { class: "settings-grid", hidden: true },
    field("Datastore", outputStore), field("Folder", outputPath, { field: "output.path" }),
    field("File name", outputFile, { field: "output.file_name" }));
  outputCustom.addEventListener("change", () => { outputBlock.hidden = !outputCustom.checked; });
  const jobName = input({ name: "job-name", placeholder: "a new GUID" });

  const submit = h("button", { type: "submit", class: "primary" }, "Submit");
  const form = h("form", { class: "card", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    clearErrors(form);
    submit.disabled = true;
    try {
      const body = { deployment_name: deployment.value || undefined, job_name: jobName.value.trim() || undefined,
        input: inputValue(), input_type: inputType.value || undefined, ...overrides.read() };
      if (outputCustom.checked) {
        body.output = { path: `azureml://datastores/${outputStore.value}/paths/${outputPath.value.trim()}`,
          file_name: outputFile.value.trim() || undefined };
      }
      const job = await api.post(`${path}/jobs`, body);
      location.hash = `#/jobs/${encodeURIComponent(job.name)}`;
    } catch (error) {
      const control = showErrors(form, error);
      if (control && control.closest("details")) control.closest("details").open = true;
    } finally {
      submit.disabled = false;
    }
  } },
  field("Deployment", deployment, { field: "deployment_name" }),
  h("fieldset", {}, h("legend", {}, "Input"), h("div", { class: "choices" }, kindRadios),
    blocks.asset, blocks.datastore, blocks.url, field("Input type", inputType, { field: "input_type" })),
  h("details", { class: "overrides" }, h("summary", {}, "Override deployment settings"),
    h("p", { class: "help" }, "Leave a field empty to keep the deployment's value."), overridesHolder),
  h("fieldset", {}, h("legend", {}, "Output"),
    h("p", { class: "help" }, "By default the predictions go to the default datastore, in a folder named after the " +
      "job. A custom location must not hold the output file already: the job then fails before scoring " +
      "anything and the existing file is left untouched."),
    h("label", { class: "check" }, outputCustom, " Write to a datastore path of my choice"), outputBlock),
  field("Job name (optional)", jobName, { field: "job_name" }),
  h("div", { class: "actions" }, submit));

  function inputValue() {
    if (kind() === "asset") return asset.value ? `azureml:${asset.value}` : "";
    if (kind() === "url") return url.value.trim();
    return `azureml://datastores/${inputStore.value}/paths/${inputPath.value.trim()}`;
  }

  mount(main,
    h("p", { class: "crumbs" }, h("a", { href: "#/endpoints" }, "Endpoints"), " / ",
      h("a", { href: `#/endpoints/${encodeURIComponent(name)}` }, name), " / New job"),
    h("div", { class: "page-head" }, h("h1", {}, `Create a job on ${name}`)),
    deployments.length ? form : h("p", { class: "empty" }, "This endpoint has no deployment yet."));
  syncKind();
  buildOverrides();
}
