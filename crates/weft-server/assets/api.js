// The API, with the token when there is one. Errors carry the server's
// message (the text the weft command prints).

let session = { token: null, signOut: () => location.reload() };

export function setSession(s) {
  session = s;
}

export function authHeaders() {
  return session.token ? { Authorization: "Bearer " + session.token } : {};
}

export function signOut() {
  session.signOut();
}

export function signedIn() {
  return !!session.token;
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error;
    super(e ? e.message : `the server answered ${status}`);
    this.status = status;
    this.code = e ? e.code : "http";
    this.details = (e && e.details) || [];
  }
}

async function request(method, path, body) {
  const headers = { Accept: "application/json", ...authHeaders() };
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  if (r.status === 401) {
    signOut();
    throw new ApiError(401, null);
  }
  const text = await r.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!r.ok) throw new ApiError(r.status, parsed);
  return parsed;
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body) => request("POST", path, body ?? {}),
};

// "?a=1&b=2" from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "" && v !== false) q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}
