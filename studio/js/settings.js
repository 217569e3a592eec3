// Deployment settings as form fields: Azure ML's names, with the defaults read from the app's OpenAPI
// document (the one place they are defined), used by the create wizard and by a job's overrides panel.
import { api, ApiError } from "./api.js";
import { h, field, input, select } from "./dom.js";

let cachedDefaults = null;

/** {resources: {instance_count}, settings: {..., retry_settings: {...}}} with the app's defaults. */
export async function deploymentDefaults() {
  if (!cachedDefaults) {
    const document = await api.get("openapi.json");
    const schemas = document.components.schemas;
    const defaultsOf = (schema) => Object.fromEntries(Object.entries(schema.properties)
      .filter(([, property]) => "default" in property).map(([name, property]) => [name, property.default]));
    cachedDefaults = {
      resources: { instance_count: defaultsOf(schemas.ResourceConfiguration).instance_count },
      settings: { ...defaultsOf(schemas.BatchDeploymentSettings), environment_variables: {},
        retry_settings: defaultsOf(schemas.RetrySettings) },
    };
  }
  return structuredClone(cachedDefaults);
}

const FIELDS = [
  ["resources.instance_count", "Instance count", "number", "Instances the job's mini-batches spread over."],
  ["settings.max_concurrency_per_instance", "Max concurrency per instance", "number",
    "Mini-batches scored at once on each instance."],
  ["settings.mini_batch_size", "Mini-batch size", "number", "Files per mini-batch."],
  ["settings.output_action", "Output action", ["append_row", "summary_only"],
    "append_row collects every prediction into one file; summary_only writes none."],
  ["settings.output_file_name", "Output file name", "text", "A file name, not a path."],
  ["settings.retry_settings.max_retries", "Max retries", "number", "Retries of a failed or timed-out mini-batch."],
  ["settings.retry_settings.timeout", "Timeout (seconds)", "number", "How long one mini-batch may run."],
  ["settings.error_threshold", "Error threshold", "number", "Failed files tolerated; -1 never fails the job."],
  ["settings.logging_level", "Logging level", ["debug", "info", "warning"], ""],
  ["settings.environment_variables", "Environment variables", "env", "One NAME=value per line, set for the scoring code."],
];

function lookup(values, path) {
  return path.split(".").reduce((node, part) => (node == null ? undefined : node[part]), values);
}

function assign(target, path, value) {
  const parts = path.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) node = node[part] = node[part] || {};
  node[parts.at(-1)] = value;
}

function envText(variables) {
  return Object.entries(variables || {}).map(([name, value]) => `${name}=${value}`).join("\n");
}

/** Parse NAME=value lines; a line without "=" is reported next to the field like an API error. */
function envValue(text) {
  const variables = {};
  for (const [number, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    if (at < 1) {
      throw new ApiError(400, { code: "ValidationError", target: "settings.environment_variables",
        message: `Line ${number + 1} of the environment variables is not NAME=value.` });
    }
    variables[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return variables;
}

/**
 * The settings fields. With `overrides`, fields start empty and show the deployment's value as a hint, and
 * read() returns only what the user filled in; otherwise fields start with `values` and read() returns all.
 */
export function settingsFields(values, { overrides = false } = {}) {
  const controls = FIELDS.map(([path, label, kind, help]) => {
    const current = lookup(values, path);
    let control;
    if (Array.isArray(kind)) {
      const options = overrides ? [["", `(deployment's: ${current})`], ...kind] : kind;
      control = select(options, { value: overrides ? "" : current });
    } else if (kind === "env") {
      control = h("textarea", { rows: 3, placeholder: overrides ? envText(current) || "NAME=value" : "NAME=value" });
      control.value = overrides ? "" : envText(current);
    } else {
      control = input({ type: kind, placeholder: overrides ? `deployment's: ${current}` : "" });
      control.value = overrides || current === undefined ? "" : current;
    }
    return { path, kind, control, element: field(label, control, { field: path, help }) };
  });
  return {
    element: h("div", { class: "settings-grid" }, controls.map((c) => c.element)),
    read() {
      const result = {};
      for (const { path, kind, control } of controls) {
        const raw = control.value;
        if (overrides && raw.trim() === "") continue;
        const value = kind === "number" ? (raw.trim() === "" ? null : Number(raw)) :
          kind === "env" ? envValue(raw) : raw;
        if (value === null) continue;
        assign(result, path, value);
      }
      return result;
    },
  };
}
