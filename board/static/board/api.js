/**
 * The public API as the board's page calls it.
 *
 * The page signs in with its Django session once per token: `POST /api/auth/session/token/`
 * (CSRF-checked) answers a short-lived access token, which is kept in this module's memory only
 * (never in storage, a cookie or a URL) and asked for again before it expires, and whenever the
 * API answers 401. Every API request carries it as `Authorization: Bearer`, and no cookie.
 *
 * Every write carries an `Idempotency-Key`, new for the write and kept for its retries: when the
 * network fails before an answer arrives, the write may or may not have happened, and sending it
 * again with the same key makes the server run it once (a 409 says the first try still runs).
 */

const ATTEMPTS = 4;

export class ApiError extends Error {
  constructor(status, body) {
    super(errorText(status, body));
    this.status = status;
    this.body = body;
  }
}

function errorText(status, body) {
  if (status === 0) return "The server cannot be reached. Check the connection and try again.";
  if (body && typeof body.detail === "string") return body.detail;
  if (body && typeof body === "object") {
    return Object.entries(body)
      .map(([field, messages]) => `${field}: ${[].concat(messages).join(" ")}`)
      .join(" ");
  }
  return `The server answered ${status}.`;
}

/** A new Idempotency-Key. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // crypto.randomUUID exists only on secure pages (HTTPS, or the loopback address).
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Milliseconds before retry `attempt` (0, 1, ...): growing, with jitter. */
export function backoff(attempt, { base = 500, most = 10_000 } = {}) {
  return Math.min(most, base * 2 ** attempt) * (0.5 + Math.random() / 2);
}

async function bodyOf(response) {
  if (response.status === 204) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

export class Api {
  #access = null;
  #renewAt = 0;
  #pending = null;
  #timer = null;
  #listeners = new Set();

  /**
   * @param {object} options
   * @param {string} options.sessionTokenUrl where the session is traded for an access token
   * @param {string} options.csrfToken the page's CSRF token, for that POST
   * @param {() => void} options.onSignedOut called when the session is over (signed out elsewhere)
   */
  constructor({ sessionTokenUrl, csrfToken, onSignedOut }) {
    this.sessionTokenUrl = sessionTokenUrl;
    this.csrfToken = csrfToken;
    this.onSignedOut = onSignedOut;
  }

  /** `listener(token)` is called with every new access token (the WebSocket renews with it). */
  onToken(listener) {
    this.#listeners.add(listener);
  }

  /** The current access token; a new one when it is due for renewal. */
  async token() {
    if (this.#access && Date.now() < this.#renewAt) return this.#access;
    return this.renew();
  }

  /** Ask for a new access token now (one request at a time, shared by every caller). */
  renew() {
    this.#pending ??= this.#ask().finally(() => {
      this.#pending = null;
    });
    return this.#pending;
  }

  async #ask() {
    let response;
    for (let attempt = 0; ; attempt++) {
      try {
        response = await fetch(this.sessionTokenUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": this.csrfToken },
        });
        break;
      } catch {
        if (attempt + 1 >= ATTEMPTS) throw new ApiError(0, null);
        await sleep(backoff(attempt));
      }
    }
    const body = await bodyOf(response);
    if (response.status === 403 && String(body?.detail).startsWith("CSRF")) {
      // The session's CSRF token changed (a sign-in in another tab): this page's is stale.
      throw new ApiError(403, { detail: "This page is out of date: reload it." });
    }
    if (response.status === 401 || response.status === 403) {
      this.#access = null;
      this.onSignedOut();
      throw new ApiError(response.status, body);
    }
    if (!response.ok) throw new ApiError(response.status, body);
    // How long it lives by the server's clock (its Date header), so that a client whose clock is
    // off still renews in time.
    const issued = Date.parse(response.headers.get("Date") ?? "") || Date.now();
    const lifetime = Math.max(0, Date.parse(body.expires_at) - issued);
    this.#access = body.access;
    this.#renewAt = Date.now() + lifetime - Math.min(60_000, lifetime / 4);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.renew().catch(() => {}), Math.max(1_000, this.#renewAt - Date.now()));
    for (const listener of this.#listeners) listener(this.#access);
    return this.#access;
  }

  /**
   * One API request; resolves to `{data, headers}`, rejects with an ApiError.
   *
   * @param {string} method
   * @param {string} path
   * @param {object} [options]
   * @param {object} [options.body] sent as JSON
   * @param {FormData} [options.form] sent as multipart/form-data (an upload)
   * @param {number} [options.version] sent as `If-Match: "<version>"`
   * @param {boolean} [options.merge] sends `Prefer: merge` (field-level merge of a PATCH)
   */
  async request(method, path, { body, form, version, merge } = {}) {
    const key = method === "GET" ? null : newKey();
    for (let attempt = 0; ; attempt++) {
      const last = attempt + 1 >= ATTEMPTS;
      const headers = { Accept: "application/json", Authorization: `Bearer ${await this.token()}` };
      if (key) headers["Idempotency-Key"] = key;
      if (version !== undefined) headers["If-Match"] = `"${version}"`;
      if (merge) headers.Prefer = "merge";
      let payload = form;
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        payload = JSON.stringify(body);
      }
      let response;
      try {
        response = await fetch(path, { method, headers, body: payload, credentials: "omit" });
      } catch {
        // No answer: sent again with the same key, the write runs at most once.
        if (last) throw new ApiError(0, null);
        await sleep(backoff(attempt));
        continue;
      }
      if (!last && response.status === 401) {
        this.#access = null; // expired on the way: a new token, the same key
        continue;
      }
      if (!last && (response.status === 503 || (response.status === 409 && key))) {
        // The server is busy, or the first try with this key is still running: wait and repeat.
        const seconds = Number(response.headers.get("Retry-After"));
        await sleep(seconds > 0 ? Math.min(seconds, 10) * 1000 : backoff(attempt));
        continue;
      }
      const data = await bodyOf(response);
      if (!response.ok) throw new ApiError(response.status, data);
      return { data, headers: response.headers };
    }
  }

  /** Every item of a paginated list, following `next`; `headers` are the first page's. */
  async all(path) {
    const first = await this.request("GET", path);
    const results = [...first.data.results];
    for (let next = first.data.next; next; ) {
      const page = await this.request("GET", next);
      results.push(...page.data.results);
      next = page.data.next;
    }
    return { results, headers: first.headers };
  }

  /** The bytes of a download, which needs the token too (so it cannot be a plain link). */
  async blob(path) {
    const headers = { Authorization: `Bearer ${await this.token()}` };
    const response = await fetch(path, { headers, credentials: "omit" });
    if (!response.ok) throw new ApiError(response.status, await bodyOf(response));
    return response.blob();
  }
}
