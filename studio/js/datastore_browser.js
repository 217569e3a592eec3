// Browsing a datastore one folder level at a time (GET datastores/{name}/paths?prefix=): click into folders,
// breadcrumbs back up, and pick a folder or file, handed over as its azureml:// URI.
import { api } from "./api.js";
import { h, field, mount, select, showErrors, table, when } from "./dom.js";

function lastPart(path) {
  return path.replace(/\/$/, "").split("/").pop();
}

export function bytes(size) {
  const units = ["bytes", "KB", "MB", "GB"];
  let value = size, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit ? `${value.toFixed(1)} ${units[unit]}` : `${size.toLocaleString()} bytes`;
}

/**
 * A datastore browser. onPick({uri, datastore, path, kind}) is called when a folder or file is picked;
 * `pickLabel` is its button's text.
 */
export function datastoreBrowser(datastores, { onPick, pickLabel = "Pick", datastore = "workspaceblobstore" } = {}) {
  const names = datastores.map((d) => d.name);
  const store = select(names, { name: "browse-datastore", value: names.includes(datastore) ? datastore : names[0] });
  const crumbs = h("nav", { class: "crumbs path-crumbs", "aria-label": "Folder" });
  const listing = h("div");
  const element = h("div", { class: "browser", "data-testid": "datastore-browser" },
    field("Datastore", store), crumbs, listing);
  let prefix = "";
  let shown = { folders: [], files: [] };

  const pick = (entry, kind) => h("button", { type: "button", "aria-label": `${pickLabel}: ${entry.path || "/"}`,
    onclick: () => onPick({ uri: entry.uri, datastore: store.value, path: entry.path, kind }) }, pickLabel);

  const draw = (next) => {
    const here = prefix.split("/").filter(Boolean);
    mount(crumbs,
      h("button", { type: "button", class: "link", onclick: () => open("") }, store.value),
      here.map((part, index) => [" / ", index === here.length - 1 ? h("span", { "aria-current": "location" }, part) :
        h("button", { type: "button", class: "link", onclick: () => open(`${here.slice(0, index + 1).join("/")}/`) },
          part)]),
      prefix ? [" ", pick({ path: prefix, uri: `azureml://datastores/${store.value}/paths/${prefix}` }, "folder")] : null);
    const rows = [...shown.folders.map((f) => ({ ...f, folder: true })), ...shown.files];
    mount(listing,
      table([
        ["Name", (e) => (e.folder ? h("button", { type: "button", class: "link folder", onclick: () => open(e.path) },
          `${lastPart(e.path)}/`) : lastPart(e.path))],
        ["Size", (e) => (e.folder ? "folder" : bytes(e.size))],
        ["Modified", (e) => (e.folder ? "" : when(e.modified_at))],
        ["", (e) => pick(e, e.folder ? "folder" : "file")],
      ], rows, { empty: prefix ? "This folder is empty." : "This datastore holds no files yet." }),
      next ? h("button", { type: "button", onclick: () => load(next) }, "Show more") : null);
  };

  async function load(next) {
    try {
      const answer = await api.get(`datastores/${encodeURIComponent(store.value)}/paths`,
        { query: { prefix, next } });
      shown = next ? { folders: [...shown.folders, ...answer.folders], files: [...shown.files, ...answer.files] }
        : answer;
      draw(answer.next);
    } catch (error) {
      mount(listing);
      showErrors(listing, error);
    }
  }

  function open(folder) {
    prefix = folder;
    return load();
  }

  store.addEventListener("change", () => open(""));
  open("");
  return element;
}
