// The studio's shell: asks for the function key once per browser session, then routes #/ pages.
import { api, ApiError, functionKey } from "./api.js";
import { h, atField, clearNotices, field, input, mount, showErrors } from "./dom.js";
import * as endpoints from "./pages/endpoints.js";
import * as endpoint from "./pages/endpoint.js";
import * as wizard from "./pages/wizard.js";
import * as models from "./pages/models.js";
import * as jobForm from "./pages/job_form.js";
import * as job from "./pages/job.js";
import * as data from "./pages/data.js";
import * as environments from "./pages/environments.js";

const ROUTES = [
  [/^\/?$/, () => [endpoints, {}]],
  [/^\/endpoints$/, () => [endpoints, {}]],
  [/^\/endpoints\/([^/]+)$/, (m) => [endpoint, { name: m[1], tab: "details" }]],
  [/^\/endpoints\/([^/]+)\/(jobs|schedules)$/, (m) => [endpoint, { name: m[1], tab: m[2] }]],
  [/^\/endpoints\/([^/]+)\/jobs\/new$/, (m) => [jobForm, { endpoint: m[1] }]],
  [/^\/create$/, () => [wizard, {}]],
  [/^\/models$/, () => [models, {}]],
  [/^\/data$/, () => [data, {}]],
  [/^\/environments$/, () => [environments, {}]],
  [/^\/jobs\/([^/]+)$/, (m) => [job, { name: m[1] }]],
];

// The top menu's section of each page: the wizard and job pages belong to Endpoints, as in Azure ML studio.
const SECTIONS = [[/^\/models/, "#/models"], [/^\/data/, "#/data"], [/^\/environments/, "#/environments"]];

function sectionOf(path) {
  const found = SECTIONS.find(([pattern]) => pattern.test(path));
  return found ? found[1] : "#/endpoints";
}

const main = document.getElementById("main");
let cleanup = null;
let shown = 0;  // the navigation whose page is on screen

function route() {
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  const query = Object.fromEntries(new URLSearchParams(search));
  const mine = ++shown;
  if (cleanup) { cleanup(); cleanup = null; }
  clearNotices();
  const section = sectionOf(path);
  document.querySelectorAll("header.top nav a").forEach((link) => {
    const current = link.getAttribute("href") === section;
    link.classList.toggle("active", current);
    if (current) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  });
  for (const [pattern, pick] of ROUTES) {
    const found = path.match(pattern);
    if (found) {
      const [page, params] = pick(found.map((part) => part && decodeURIComponent(part)));
      // Each page draws into its own holder: one still loading when the user moves on draws into a holder no
      // longer shown, and its timers are stopped as soon as it is done.
      const holder = h("div", { class: "page" }, h("p", { class: "loading" }, "Loading..."));
      mount(main, holder);
      Promise.resolve(page.render(holder, { ...params, query }))
        .then((stop) => {
          const stopper = typeof stop === "function" ? stop : null;
          if (mine === shown) cleanup = stopper; else if (stopper) stopper();
        })
        .catch((error) => { if (mine === shown) fail(error); });
      return;
    }
  }
  mount(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/endpoints" }, "Back to endpoints")));
}

function fail(error) {
  if (error instanceof ApiError && error.status === 401) {
    functionKey.clear();
    askForKey("The function key was not accepted; give it again.");
    return;
  }
  mount(main, h("div", { class: "form-error", role: "alert" }, `${error.code || "Error"}: ${error.message}`));
}

function askForKey(reason) {
  const key = input({ type: "password", autocomplete: "off", name: "function-key" });
  const form = h("form", { class: "card narrow", onsubmit: async (event) => {
    event.preventDefault();
    try {
      await api.get("batchEndpoints", { key: key.value.trim() });
      functionKey.set(key.value.trim());
      start();
    } catch (error) {
      showErrors(form, error.status === 401 ? atField(error, "key") : error);
    }
  } },
  h("h1", {}, "Sign in"),
  h("p", {}, reason || "Give the app's function key (make start prints it as the default function key). " +
    "It is kept in this browser tab's session only."),
  field("Function key", key, { field: "key" }),
  h("button", { type: "submit", class: "primary" }, "Continue"));
  document.body.classList.add("signed-out");
  shown++;
  mount(main, form);
  key.focus();
}

function start() {
  document.body.classList.remove("signed-out");
  window.onhashchange = route;
  route();
}

document.getElementById("sign-out").addEventListener("click", () => {
  functionKey.clear();
  window.onhashchange = null;
  askForKey();
});

window.addEventListener("studio-unauthorized", () => fail(new ApiError(401, {})));

if (functionKey.get()) start(); else askForKey();
