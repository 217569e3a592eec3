// The create wizard: endpoint (new or existing) -> model (and an optional scoring script) -> deployment
// settings -> review -> create. All steps live in one form so an API error can be shown next to its field
// and the wizard can go back to the step that holds it. A new endpoint is removed again if its first
// deployment cannot be created, so a failed wizard leaves nothing behind.
import { api, ApiError } from "../api.js";
import { h, atField, clearErrors, field, input, mount, select, showErrors } from "../dom.js";
import { deploymentDefaults, settingsFields } from "../settings.js";

const STEPS = ["Endpoint", "Model", "Deployment", "Review"];
const MODEL_STEP = 1;

export async function render(main, { query }) {
  const [endpoints, models, defaults] = await Promise.all([
    api.list("batchEndpoints"), api.list("models"), deploymentDefaults()]);
  let step = 0;

  // -- step 1: endpoint
  const hasEndpoints = endpoints.length > 0;
  const startExisting = Boolean(query.endpoint) && endpoints.some((e) => e.name === query.endpoint);
  const endpointMode = { value: startExisting ? "existing" : "new" };
  const modeNew = h("input", { type: "radio", name: "endpoint-mode", value: "new", checked: !startExisting });
  const modeExisting = h("input", { type: "radio", name: "endpoint-mode", value: "existing", checked: startExisting,
    disabled: !hasEndpoints });
  const endpointName = input({ name: "endpoint-name", autocomplete: "off" });
  const endpointDescription = input({ name: "endpoint-description" });
  const existing = select(endpoints.map((e) => e.name), { name: "existing-endpoint", value: query.endpoint || "" });
  const newBlock = h("div", {}, field("Endpoint name", endpointName, { field: "endpoint.name",
    help: "3-32 characters: a letter first, then letters, digits and hyphens." }),
  field("Description", endpointDescription, { field: "endpoint.description" }));
  const existingBlock = h("div", {}, field("Endpoint", existing, { field: "endpoint.existing" }));
  const syncMode = () => {
    endpointMode.value = modeExisting.checked ? "existing" : "new";
    newBlock.hidden = endpointMode.value !== "new";
    existingBlock.hidden = endpointMode.value !== "existing";
    makeDefaultField.hidden = endpointMode.value !== "existing";
  };
  modeNew.addEventListener("change", syncMode);
  modeExisting.addEventListener("change", syncMode);

  // -- step 2: model and scoring script
  const [presetName, presetVersion] = (query.model || "").replace(/^azureml:/, "").split(":");
  const modelName = select([["", "Select a model"], ...models.map((m) => [m.name, `${m.name} (${m.format})`])],
    { name: "model-name", value: presetName || "" });
  const modelVersion = select([], { name: "model-version" });
  const modelInfo = h("p", { class: "help" });
  const loadVersions = async () => {
    modelVersion.replaceChildren();
    modelInfo.textContent = "";
    if (!modelName.value) return;
    const versions = await api.list(`models/${encodeURIComponent(modelName.value)}/versions`);
    for (const version of versions) {
      modelVersion.append(h("option", { value: version.version, selected: version.version === presetVersion },
        `${version.version} (${version.format}${version.scorable_without_code ? "" : ", needs a scoring script"})`));
    }
    const chosen = versions.find((v) => v.version === modelVersion.value) || versions[0];
    if (chosen) {
      modelInfo.textContent = chosen.scorable_without_code
        ? `${chosen.format === "onnx" ? "ONNX" : "MLflow"} model: scored without code; a scoring script is optional.`
        : "This model has no scoring flavor: upload a scoring script (init/run).";
    }
  };
  modelName.addEventListener("change", () => {
    if (modelName.value) clearErrors(modelName.closest(".field"));
    return loadVersions();
  });
  const scriptFile = h("input", { type: "file", name: "scoring-script-file", accept: ".py,.zip" });
  const scoringScript = input({ name: "scoring-script", placeholder: "score.py" });
  scriptFile.addEventListener("change", () => {
    const file = scriptFile.files[0];
    if (file && file.name.endsWith(".py")) scoringScript.value = file.name;
  });

  // -- step 3: deployment
  const deploymentName = input({ name: "deployment-name", autocomplete: "off" });
  const deploymentDescription = input({ name: "deployment-description" });
  const settings = settingsFields(defaults);
  const makeDefault = h("input", { type: "checkbox", name: "make-default" });
  const makeDefaultField = h("label", { class: "check" }, makeDefault,
    " Make it the endpoint's default deployment");

  // -- step 4: review
  const review = h("dl", { class: "review" });

  const panels = [
    h("fieldset", {}, h("legend", {}, "Endpoint"),
      h("div", { class: "choices" }, h("label", { class: "check" }, modeNew, " Create a new endpoint"),
        h("label", { class: "check" }, modeExisting, " Add to an existing endpoint")),
      newBlock, existingBlock),
    h("fieldset", {}, h("legend", {}, "Model"),
      field("Registered model", modelName, { field: "deployment.model",
        help: "MLflow and ONNX models score without code. " }),
      h("p", { class: "help" }, h("a", { href: "#/models" }, "Register a model"), " first if it is not listed."),
      field("Version", modelVersion), modelInfo,
      h("h3", {}, "Scoring script (custom)"),
      field("Script file or folder (.py or .zip)", scriptFile, { field: "code" }),
      field("Entry script", scoringScript, { field: "deployment.code_configuration.scoring_script",
        help: "The file with init() and run(mini_batch); for a .zip, its path inside the folder." })),
    h("fieldset", {}, h("legend", {}, "Deployment"),
      field("Deployment name", deploymentName, { field: "deployment.name" }),
      field("Description", deploymentDescription, { field: "deployment.description" }),
      makeDefaultField,
      h("h3", {}, "Settings"), settings.element),
    h("fieldset", {}, h("legend", {}, "Review"), review),
  ];
  // Deployment settings errors come back as settings.*, resources.*: let them find their fields.
  settings.element.querySelectorAll("[data-field]").forEach((c) => { c.dataset.field = `deployment.${c.dataset.field}`; });

  const back = h("button", { type: "button", onclick: () => go(step - 1) }, "Back");
  const next = h("button", { type: "button", class: "primary", onclick: () => go(step + 1) }, "Next");
  const create = h("button", { type: "submit", class: "primary" }, "Create");
  const stepper = h("ol", { class: "stepper" }, STEPS.map((name, index) =>
    h("li", { dataset: { step: index } }, h("button", { type: "button", onclick: () => go(index) }, name))));
  const form = h("form", { class: "card wizard", novalidate: true, onsubmit: submit },
    stepper, panels, h("div", { class: "actions" }, back, next, create));

  function go(target) {
    if (target > MODEL_STEP && !modelName.value) {
      // A deployment scores with a model: the steps after Model wait until one is chosen.
      showErrors(form, { code: "ValidationError", message: "", details: [
        { target: "deployment.model", message: "Choose a registered model to go on." }] });
      target = MODEL_STEP;
    }
    step = Math.max(0, Math.min(STEPS.length - 1, target));
    panels.forEach((panel, index) => { panel.hidden = index !== step; });
    stepper.querySelectorAll("li").forEach((li, index) => li.classList.toggle("current", index === step));
    back.disabled = step === 0;
    next.hidden = step === STEPS.length - 1;
    create.hidden = step !== STEPS.length - 1;
    if (step === STEPS.length - 1) fillReview();
  }

  function targetEndpoint() {
    return endpointMode.value === "new" ? endpointName.value.trim() : existing.value;
  }

  function modelRef() {
    return modelName.value ? `azureml:${modelName.value}:${modelVersion.value}` : "";
  }

  function fillReview() {
    let chosen;
    try { chosen = settings.read(); } catch { chosen = {}; }
    const rows = [
      ["Endpoint", `${targetEndpoint() || "(no name)"} (${endpointMode.value === "new" ? "new" : "existing"})`],
      ["Model", modelRef() || "(none selected)"],
      ["Scoring script", scriptFile.files[0] ? `${scriptFile.files[0].name} -> ${scoringScript.value}` : "none (no-code)"],
      ["Deployment", deploymentName.value || "(no name)"],
      ["Instance count", chosen.resources?.instance_count],
      ...Object.entries(chosen.settings || {}).map(([name, value]) =>
        [name, typeof value === "object" ? JSON.stringify(value) : value]),
    ];
    review.replaceChildren(...rows.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, String(value ?? ""))]));
  }

  function requireName(value, target, message) {
    if (!value) throw new ApiError(400, { code: "ValidationError", message, target });
  }

  function stepOf(control) {
    const index = panels.findIndex((panel) => panel.contains(control));
    return index < 0 ? step : index;
  }

  async function submit(event) {
    event.preventDefault();
    clearErrors(form);
    create.disabled = true;
    const endpoint = targetEndpoint();
    let createdEndpoint = false;
    let prefix = "";  // where the fields of the failing step's errors sit in this form
    const name = deploymentName.value.trim();
    try {
      requireName(endpoint, "endpoint.name", "Give the new endpoint a name.");
      requireName(name, "deployment.name", "Give the deployment a name.");
      prefix = "deployment.";
      const body = { model: modelRef() || undefined, description: deploymentDescription.value };
      Object.assign(body, settings.read());
      if (endpointMode.value === "new") {
        prefix = "endpoint.";
        await api.put(`batchEndpoints/${encodeURIComponent(endpoint)}`,
          { description: endpointDescription.value }, { headers: { "If-None-Match": "*" } });
        createdEndpoint = true;
      }
      if (scriptFile.files[0]) {
        prefix = "code";
        const file = scriptFile.files[0];
        const code = await api.upload("codes", file, { filename: file.name });
        body.code_configuration = { code: code.id, scoring_script: scoringScript.value.trim() || file.name };
      }
      prefix = "deployment.";
      await api.put(`batchEndpoints/${encodeURIComponent(endpoint)}/deployments/${encodeURIComponent(name)}`,
        body, { headers: { "If-None-Match": "*" } });
      if (endpointMode.value === "existing" && makeDefault.checked) {
        await api.patch(`batchEndpoints/${encodeURIComponent(endpoint)}`, { defaults: { deployment_name: name } });
      }
      location.hash = `#/endpoints/${encodeURIComponent(endpoint)}`;
    } catch (error) {
      if (createdEndpoint) await api.del(`batchEndpoints/${encodeURIComponent(endpoint)}`).catch(() => {});
      const control = prefix === "code" ? showErrors(form, atField(error, "code"))
        : showErrors(form, error, prefix);
      go(control ? stepOf(control) : step);
      if (!control) form.querySelector(".form-error")?.scrollIntoView();
    } finally {
      create.disabled = false;
    }
  }

  mount(main, h("div", { class: "page-head" }, h("h1", {}, "Create a batch deployment")), form);
  syncMode();
  await loadVersions();
  if (query.endpoint && startExisting) go(query.model ? 2 : 1); else go(0);
}
