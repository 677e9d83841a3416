// JSON requests to the app's own API: session cookie, CSRF header, German errors.

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The double-submit CSRF token the login left in a readable cookie. */
export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrf_token") return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** An API answer that was not 2xx; `message` is the server's German text. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function messageFor(status, body) {
  if (body && typeof body.error === "string") return body.error;
  if (body && typeof body.message === "string") return body.message;
  if (body && typeof body.detail === "string") return body.detail;
  if (status === 503) return "Dienst vorübergehend nicht verfügbar. Bitte später erneut versuchen.";
  if (status === 0) return "Keine Verbindung zum Server.";
  return `Anfrage fehlgeschlagen (${status}).`;
}

/**
 * fetch() with JSON in and out. A 401 sends the browser to the login page
 * (the session ended), every other failure raises ApiError.
 */
export async function api(path, { method = "GET", body, redirectOn401 = true } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (!SAFE_METHODS.has(method)) headers["X-CSRF-Token"] = csrfToken();
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, messageFor(0, null), null);
  }
  let data = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("application/json")) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (response.status === 401 && redirectOn401) {
    goToLogin();
  }
  if (!response.ok) throw new ApiError(response.status, messageFor(response.status, data), data);
  return data;
}

export function goToLogin() {
  const next = window.location.pathname + window.location.search;
  window.location.assign(`/login?next=${encodeURIComponent(next)}`);
}
