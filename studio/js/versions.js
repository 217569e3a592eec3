// The versions of one asset (a model, data asset or environment), shown below its list when its name is clicked.
import { api } from "./api.js";
import { h, mount, table } from "./dom.js";

/** {element, show(name)}: `collection` is the API's ("models", "data", "environments"), `columns` the table's. */
export function versionsSection(id, collection, columns) {
  const element = h("section", { id });
  const show = async (name) => {
    const versions = await api.list(`${collection}/${encodeURIComponent(name)}/versions`);
    mount(element, h("h2", {}, `Versions of ${name}`), table(columns, versions));
  };
  return { element, show };
}
