// Models: register a model by upload, list models and their versions, deploy a version to a batch endpoint.
import { api } from "../api.js";
import { h, clearErrors, field, input, mount, notice, select, showErrors, table, when } from "../dom.js";
import { versionsSection } from "../versions.js";

export async function render(main) {
  const name = input({ name: "model-name", autocomplete: "off" });
  const file = h("input", { type: "file", name: "model-file", accept: ".onnx,.zip" });
  const type = select([["", "Detect from the files"], ["mlflow_model", "mlflow_model"], ["custom_model", "custom_model"]],
    { name: "model-type" });
  const description = input({ name: "model-description" });
  const register = h("button", { type: "submit", class: "primary" }, "Register");
  const form = h("form", { class: "card", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    clearErrors(form);
    const chosen = file.files[0];
    if (!name.value.trim() || !chosen) {
      showErrors(form, { code: "ValidationError", message: "", details: [
        ...(!name.value.trim() ? [{ target: "name", message: "Give the model a name." }] : []),
        ...(!chosen ? [{ target: "file", message: "Choose an .onnx file or a .zip of the model folder." }] : [])] });
      return;
    }
    register.disabled = true;
    try {
      const model = await api.upload(`models/${encodeURIComponent(name.value.trim())}/versions`, chosen,
        { filename: chosen.name, type: type.value, description: description.value });
      notice(`Registered ${model.name} version ${model.version} (${model.format}).`);
      await render(main);
    } catch (error) {
      showErrors(form, error);
    } finally {
      register.disabled = false;
    }
  } },
  h("h2", {}, "Register a model"),
  h("div", { class: "settings-grid" },
    field("Name", name, { field: "name" }),
    field("Model file", file, { field: "file",
      help: "One .onnx file, or a .zip of an MLflow model folder (or of any model files, scored by a script)." }),
    field("Type", type, { field: "type" }),
    field("Description", description, { field: "description" })),
  h("div", { class: "actions" }, register));

  const models = await api.list("models");
  const versions = versionsSection("versions", "models", [
    ["Version", (v) => v.version],
    ["Format", (v) => v.format],
    ["Scored without code", (v) => (v.scorable_without_code ? "yes" : "no: needs a scoring script")],
    ["Created", (v) => when(v.created_at)],
    ["", (v) => deployLink(v)],
  ]);
  mount(main,
    h("div", { class: "page-head" }, h("h1", {}, "Models")),
    form,
    table([
      ["Name", (m) => h("button", { type: "button", class: "link", onclick: () => versions.show(m.name) }, m.name)],
      ["Latest version", (m) => m.version],
      ["Format", (m) => m.format],
      ["Type", (m) => m.type],
      ["Created", (m) => when(m.created_at)],
      ["", (m) => deployLink(m)],
    ], models, { empty: "No models yet: register one above." }),
    versions.element);
}

function deployLink(model) {
  return h("a", { class: "button", href: `#/create?model=${encodeURIComponent(`${model.name}:${model.version}`)}` },
    "Deploy to batch endpoint");
}
