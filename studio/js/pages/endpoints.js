// Endpoints: the batch endpoints list and + Create.
import { api } from "../api.js";
import { h, mount, table, when } from "../dom.js";

export async function render(main) {
  const endpoints = await api.list("batchEndpoints");
  mount(main,
    h("div", { class: "page-head" },
      h("h1", {}, "Batch endpoints"),
      h("a", { class: "button primary", href: "#/create" }, "+ Create")),
    table([
      ["Name", (e) => h("a", { href: `#/endpoints/${encodeURIComponent(e.name)}` }, e.name)],
      ["Default deployment", (e) => (e.defaults && e.defaults.deployment_name) || "none yet"],
      ["State", (e) => h("span", { class: `state ${String(e.provisioning_state).toLowerCase()}` }, e.provisioning_state)],
      ["Created", (e) => when(e.created_at)],
      ["Description", (e) => e.description || ""],
    ], endpoints, { empty: "No batch endpoints yet: + Create makes one with its first deployment." }));
}
