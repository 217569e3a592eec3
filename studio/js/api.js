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

// Names the studio to the API, which records it as the client that started a job.
const CLIENT_HEADER = "x-mlbatch-client";

/** The answer of a call that succeeded; a failed one throws an ApiError with the API's message. */
async function send(method, path, { json, body, query, headers = {}, key } = {}) {
  const options = { method, headers: { "x-functions-key": key ?? functionKey.get() ?? "", [CLIENT_HEADER]: "studio",
    ...headers } };
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
  if (answer.ok) return answer;
  if (answer.status === 401) {
    throw new ApiError(401, { code: "Unauthorized", message: "The function key was not accepted." });
  }
  const data = parse(await answer.text());
  const error = data && data.error ? data.error : { message: typeof data === "string" && data ? data : answer.statusText };
  throw new ApiError(answer.status, error);
}

function parse(text) {
  if (!text) return null;
  try { return JSON.parse(text); } catch { return text; }
}

export async function call(method, path, options) {
  return parse(await (await send(method, path, options)).text());
}

/** The first `length` bytes of a file as text, and whether that is the whole file. */
export async function readStart(path, length) {
  const answer = await send("GET", path, { headers: { Range: `bytes=0-${length - 1}` } });
  const text = await answer.text();
  const total = Number((answer.headers.get("content-range") || "").split("/")[1]);
  return { text, whole: answer.status === 200 || (total > 0 && total <= length) };
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
