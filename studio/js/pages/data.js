// Data: data assets and their versions, a new version from uploaded files or a whole folder (zipped here), and
// the datastores browsed folder by folder; any data asset version or datastore path can be taken to a job.
import { api } from "../api.js";
import { bytes, datastoreBrowser } from "../datastore_browser.js";
import { h, atField, clearErrors, field, input, mount, notice, select, showErrors, table, when } from "../dom.js";
import { versionsSection } from "../versions.js";
import { zipFiles } from "../zip.js";

// What a folder upload leaves out, as `mlbatch` does for a local folder.
const SKIPPED = new Set(["__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX", ".DS_Store"]);

/** The picked files as zip entries: a folder's files by their path inside it, loose files by their name. */
function entriesOf(files, fromFolder) {
  return [...files].map((file) => {
    const parts = (fromFolder && file.webkitRelativePath ? file.webkitRelativePath : file.name).split("/");
    return { path: (fromFolder ? parts.slice(1) : parts).join("/"), file, parts };
  }).filter((entry) => !entry.parts.some((part) => SKIPPED.has(part)))
    .map(({ path, file }) => ({ path, file }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export async function render(main, { show } = {}) {
  const [assets, datastores, endpoints] = await Promise.all([
    api.list("data"), api.list("datastores"), api.list("batchEndpoints")]);

  // -- using a data asset version or a datastore path as a job's input
  const chosen = h("code", { class: "uri" });
  const endpoint = select(endpoints.map((e) => e.name), { name: "job-endpoint" });
  const go = h("a", { class: "button primary" }, "Create job");
  const sync = () => {
    go.href = `#/endpoints/${encodeURIComponent(endpoint.value)}/jobs/new?input=${encodeURIComponent(chosen.textContent)}`;
  };
  endpoint.addEventListener("change", sync);
  const picked = h("aside", { class: "picked card", hidden: true, "data-testid": "picked-input" },
    h("span", {}, "Job input: "), chosen, " ",
    endpoints.length ? [h("label", {}, " on endpoint ", endpoint), " ", go]
      : h("span", {}, " No endpoint yet: ", h("a", { href: "#/create" }, "create one"), " first."),
    h("button", { type: "button", class: "link", onclick: () => { picked.hidden = true; } }, "Close"));
  const useAsInput = (uri) => {
    chosen.textContent = uri;
    sync();
    picked.hidden = false;
    go.focus();
  };
  const useButton = (uri, what) => h("button", { type: "button", "aria-label": `Use ${what} as job input`,
    onclick: () => useAsInput(uri) }, "Use as job input");

  // -- a new version from files or a folder
  const name = input({ name: "data-name", autocomplete: "off" });
  const files = h("input", { type: "file", name: "data-files", multiple: true });
  const folder = h("input", { type: "file", name: "data-folder", webkitdirectory: true });
  const type = select([["", "Detect from what is picked"],
    ["uri_file", "uri_file"], ["uri_folder", "uri_folder"]], { name: "data-type" });
  const description = input({ name: "data-description" });
  const status = h("p", { class: "help", role: "status", "aria-live": "polite" });
  // One of the two pickers at a time: picking in one clears the other.
  files.addEventListener("change", () => { if (files.files.length) folder.value = ""; });
  folder.addEventListener("change", () => { if (folder.files.length) files.value = ""; });
  const create = h("button", { type: "submit", class: "primary" }, "Create");
  const form = h("form", { class: "card", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    clearErrors(form);
    const fromFolder = folder.files.length > 0;
    const entries = entriesOf(fromFolder ? folder.files : files.files, fromFolder);
    const kind = type.value || (fromFolder || entries.length > 1 ? "uri_folder" : "uri_file");
    const problems = [
      ...(!name.value.trim() ? [{ target: "name", message: "Give the data asset a name." }] : []),
      ...(!entries.length ? [{ target: "file", message: fromFolder ? "The folder holds no files to upload."
        : "Choose files or a folder." }] : []),
      ...(kind === "uri_file" && entries.length > 1
        ? [{ target: "type", message: "A uri_file is one file: choose uri_folder for several." }] : []),
    ];
    if (problems.length) {
      showErrors(form, { code: "ValidationError", message: "", details: problems });
      return;
    }
    create.disabled = true;
    try {
      let body = entries[0].file, filename = entries[0].file.name;
      // A .zip picked alone as a uri_folder is already the archive the API takes; anything else is zipped here.
      if (kind === "uri_folder" && !(entries.length === 1 && !fromFolder && /\.zip$/i.test(filename))) {
        body = await zipFiles(entries, (done, total) => { status.textContent = `Zipping: ${done} of ${total} files`; });
        filename = `${(fromFolder ? folder.files[0].webkitRelativePath.split("/")[0] : name.value.trim())}.zip`;
      }
      status.textContent = `Uploading ${bytes(body.size)}...`;
      const asset = await api.upload(`data/${encodeURIComponent(name.value.trim())}/versions`, body,
        { filename, type: kind, description: description.value });
      notice(`Created data asset ${asset.name} version ${asset.version} (${asset.type}, ${entries.length} ` +
        `file${entries.length === 1 ? "" : "s"}).`);
      await render(main, { show: asset.name });
    } catch (error) {
      status.textContent = "";
      showErrors(form, error.status === 413 ? atField({ ...error, message: "The upload is larger than the app " +
        "takes in one request (100 MiB unless its host is set otherwise): copy the files into a datastore and " +
        "pick their folder below as the job input." }, "file") : error);
    } finally {
      create.disabled = false;
    }
  } },
  h("h2", {}, "Create a data asset version"),
  h("div", { class: "settings-grid" },
    field("Name", name, { field: "name", help: "A new name makes a new data asset; an existing one, its next version." }),
    field("Files", files, { field: "file", help: "One file, or several (uploaded together as a folder)." }),
    field("Or a folder", folder, { help: "The whole folder with its subfolders, zipped in this browser." }),
    field("Type", type, { field: "type", help: "One file makes a uri_file; a folder or several files, a uri_folder." }),
    field("Description", description, { field: "description" })),
  status,
  h("div", { class: "actions" }, create));

  const versions = versionsSection("data-versions", "data", [
    ["Version", (v) => v.version],
    ["Type", (v) => v.type],
    ["Path", (v) => h("code", { class: "uri" }, v.path)],
    ["Description", (v) => v.description || ""],
    ["Created", (v) => when(v.created_at)],
    ["", (v) => useButton(v.id, `${v.name} version ${v.version}`)],
  ]);

  mount(main,
    h("div", { class: "page-head" }, h("h1", {}, "Data")),
    form,
    h("h2", {}, "Data assets"),
    table([
      ["Name", (a) => h("button", { type: "button", class: "link", onclick: () => versions.show(a.name) }, a.name)],
      ["Latest version", (a) => a.version],
      ["Type", (a) => a.type],
      ["Path", (a) => h("code", { class: "uri" }, a.path)],
      ["Created", (a) => when(a.created_at)],
      ["", (a) => useButton(`azureml:${a.name}@latest`, `${a.name} (latest)`)],
    ], assets, { empty: "No data assets yet: create one above, or with `mlbatch data create`." }),
    versions.element,
    h("h2", {}, "Browse datastores"),
    h("div", { class: "card" }, datastoreBrowser(datastores, { pickLabel: "Use as job input",
      onPick: (entry) => useAsInput(entry.uri) })),
    picked);
  if (show) await versions.show(show);
}
