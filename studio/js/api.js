// Calls to the app's REST API with the function key the user gave once (kept for the browser session).
const KEY_NAME = "batch-studio.function-key";

// "/api/studio/..." -> "/api/": the API lives beside the studio under the same route prefix.
export const API_BASE = location.pathname.replace(/studio(\/.*)?$/, "");

export class ApiError extends Error {
  constructor(status, error) {
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "Error";
    this.target = error.target || null;
    this.details = error.details || [];
  }
}

export const functionKey = {
  get: () => sessionStorage.getItem(KEY_NAME),
  set: (value) => sessionStorage.setItem(KEY_NAME, value),
  clear: () => sessionStorage.removeItem(KEY_NAME),
};

export function apiUrl(path, query = {}) {
  const url = new URL(API_BASE + path, location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  return url;
}

/** A link that downloads without headers: the key rides in the `code` query parameter, as Functions allows. */
export function downloadUrl(url) {
  const link = new URL(url, location.origin);
  link.searchParams.set("code", functionKey.get() || "");
  return link.toString();
}

export async function call(method, path, { json, body, query, headers = {}, key } = {}) {
  const options = { method, headers: { "x-functions-key": key ?? functionKey.get() ?? "", ...headers } };
  if (json !== undefined) {
    options.body = JSON.stringify(json);
    options.headers["content-type"] = "application/json";
  } else if (body !== undefined) {
    options.body = body;
    options.headers["content-type"] = "application/octet-stream";
  }
  let answer;
  try {
    answer = await fetch(apiUrl(path, query), options);
  } catch (failure) {
    throw new ApiError(0, { code: "Unreachable", message: `The app did not answer (${failure.message}).` });
  }
  const text = await answer.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!answer.ok) {
    if (answer.status === 401) {
      throw new ApiError(401, { code: "Unauthorized", message: "The function key was not accepted." });
    }
    const error = data && data.error ? data.error : { message: typeof data === "string" && data ? data : answer.statusText };
    throw new ApiError(answer.status, error);
  }
  return data;
}

export const api = {
  get: (path, options) => call("GET", path, options),
  put: (path, json, options = {}) => call("PUT", path, { ...options, json }),
  patch: (path, json, options = {}) => call("PATCH", path, { ...options, json }),
  post: (path, json, options = {}) => call("POST", path, { ...options, json }),
  upload: (path, blob, query) => call("POST", path, { body: blob, query }),
  del: (path) => call("DELETE", path),
  list: async (path, options) => (await call("GET", path, options)).value,
};
