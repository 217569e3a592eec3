// Small DOM helpers shared by the pages: element building, fields, API errors shown next to their field.

/** h("div", {class: "x", onclick: f}, child, "text", [children]) */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function mount(target, ...children) {
  target.replaceChildren();
  append(target, children);
}

export function when(value) {
  if (!value) return "";
  const date = new Date(value);
  return isNaN(date) ? value : date.toLocaleString();
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole}s`;
  const minutes = Math.floor(whole / 60);
  return minutes < 60 ? `${minutes}m ${whole % 60}s` : `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

/** A labelled input; `field` names the API field (e.g. "settings.mini_batch_size") its errors belong to. */
export function field(label, control, { field: name, help } = {}) {
  if (name) control.dataset.field = name;
  control.id = control.id || `f-${(name || label).replace(/[^a-z0-9]+/gi, "-")}-${Math.random().toString(36).slice(2, 7)}`;
  return h("div", { class: "field", dataset: { for: name || "" } },
    h("label", { for: control.id }, label), control,
    help ? h("small", { class: "help" }, help) : null);
}

export function input(attrs = {}) {
  return h("input", { type: "text", ...attrs });
}

export function select(options, attrs = {}) {
  return h("select", attrs, options.map((option) => {
    const [value, text] = Array.isArray(option) ? option : [option, option];
    return h("option", { value, selected: String(attrs.value) === String(value) }, text);
  }));
}

/** Text with `code` spans as <code> elements, so messages can name commands without showing backticks. */
export function prose(text) {
  return String(text).split("`").map((part, index) => (index % 2 ? h("code", {}, part) : part));
}

export function table(columns, rows, { empty = "Nothing yet." } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, prose(empty));
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", {}, title)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))));
}

/** The same error, shown at another field (its message and code kept). */
export function atField(error, target) {
  return { code: error.code, message: error.message, target, details: [] };
}

/** Remove earlier error messages of a form. */
export function clearErrors(form) {
  form.querySelectorAll(".field-error, .form-error").forEach((node) => node.remove());
  form.querySelectorAll("[aria-invalid]").forEach((node) => node.removeAttribute("aria-invalid"));
}

/**
 * Show an API error in a form: each message next to the control whose data-field matches its target
 * (with `prefix` for calls whose fields sit under a part of the form), the rest at the top of the form.
 * Returns the first control that got a message, so a wizard can go to its step.
 */
export function showErrors(form, error, prefix = "") {
  clearErrors(form);
  const items = error.details && error.details.length ? error.details : [{ target: error.target, message: error.message }];
  let first = null;
  const loose = [];
  for (const item of items) {
    const control = item.target ? findControl(form, prefix + item.target) : null;
    if (control) {
      control.setAttribute("aria-invalid", "true");
      const holder = control.closest(".field") || control.parentElement;
      holder.append(h("p", { class: "field-error", role: "alert" }, item.message));
      first = first || control;
    } else {
      loose.push(item.message);
    }
  }
  if (loose.length || !first) {
    const code = error.code && error.code !== "Error" ? `${error.code}: ` : "";
    form.prepend(h("div", { class: "form-error", role: "alert" }, code + (loose.join(" ") || error.message)));
  }
  return first;
}

function findControl(form, target) {
  // "settings.retry_settings.timeout" also matches a control for "settings.retry_settings" or "settings".
  const parts = target.split(".");
  for (let size = parts.length; size > 0; size--) {
    const name = parts.slice(0, size).join(".");
    const controls = [...form.querySelectorAll(`[data-field="${CSS.escape(name)}"]`)];
    const control = controls.find((c) => !c.closest("[hidden]")) || controls[0];
    if (control) return control;
  }
  return null;
}

/** A modal confirm dialog; resolves true when the user confirms. */
export function confirmDialog(title, message, action = "Delete") {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-label": title },
      h("h2", {}, title), h("p", {}, message),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger", onclick: () => close(true) }, action),
        h("button", { type: "button", onclick: () => close(false) }, "Cancel")));
    const close = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    dialog.addEventListener("cancel", () => close(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A passing message; `across` keeps it over the one navigation that its action causes (a delete, then back to
 * the list), while every other navigation clears it, so no notice talks about a page left behind. */
export function notice(text, kind = "info", { across = false } = {}) {
  const area = document.getElementById("notices");
  const note = h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status",
    dataset: { across: across ? "1" : "" } }, text);
  area.append(note);
  setTimeout(() => note.remove(), 6000);
}

export function clearNotices() {
  document.querySelectorAll("#notices .notice").forEach((note) => {
    if (note.dataset.across) note.dataset.across = ""; else note.remove();
  });
}

export function busy(button, promise) {
  button.disabled = true;
  return promise.finally(() => { button.disabled = false; });
}
