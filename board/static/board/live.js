/**
 * The board's WebSocket (docs/realtime.md): sign in with the access token in the first frame,
 * subscribe to the project from the last seq applied, and hand each event over once, in seq order.
 *
 * After any disconnect (the network, a server restart or deploy) it says so, connects again with a
 * growing, jittered delay, and subscribes with `since` = the last seq applied: the server replays
 * what was missed, so nothing is lost and the page never reloads. A close with 4401 (the token
 * expired or the password changed) asks for a new token first. New tokens are sent in `auth`
 * frames on the open socket before the old one expires. `reset` and `revoked` are handed over:
 * the board reloads its data, or stops.
 *
 * Presence: the socket says which task the user looks at (or none) once subscribed and on every
 * change, and pings often enough to stay counted (the server forgets a socket silent for 60 s).
 */

import { backoff } from "./api.js";

const PING_MS = 20_000;
// A socket that has answered nothing for this long is taken for dead, and replaced.
const SILENCE_MS = 45_000;

export class LiveConnection {
  #socket = null;
  #signedIn = false;
  #subscribed = false;
  #attempts = 0;
  #retry = null;
  #ping = null;
  #heardAt = 0;
  #stopped = false;
  #task = null;

  /**
   * @param {object} options
   * @param {import("./api.js").Api} options.api
   * @param {number} options.project
   * @param {string} options.url the WebSocket URL (`ws://host/ws/`)
   * @param {(frame: object) => void} options.onEvent each event frame, in seq order, once
   * @param {(viewers: object[]) => void} options.onPresence
   * @param {(state: string) => void} options.onStatus `connecting`, `live`, `reconnecting` or `revoked`
   * @param {() => void} options.onReset the server cannot replay from the last seq: reload
   */
  constructor({ api, project, url, onEvent, onPresence, onStatus, onReset }) {
    Object.assign(this, { api, project, url, onEvent, onPresence, onStatus, onReset });
    this.lastSeq = 0;
    api.onToken((token) => {
      if (this.#signedIn) this.#send({ type: "auth", token });
    });
  }

  /** Connect, and follow the project from `since` (the seq the loaded data is true at). */
  start(since) {
    this.lastSeq = since;
    this.#connect();
  }

  /** Follow again from `since`, after a reload that `reset` asked for. */
  resubscribe(since) {
    this.lastSeq = since;
    this.#subscribe();
  }

  /** The task the user looks at now (an open or focused card), or null for the board. */
  look(taskId) {
    if (taskId === this.#task) return;
    this.#task = taskId;
    if (this.#subscribed) this.#send({ type: "presence", project: this.project, task: taskId });
  }

  #connect() {
    this.#signedIn = this.#subscribed = false;
    const socket = new WebSocket(this.url);
    this.#socket = socket;
    socket.addEventListener("open", async () => {
      this.#heardAt = Date.now();
      let token;
      try {
        token = await this.api.token();
      } catch {
        socket.close();
        return;
      }
      if (socket === this.#socket) this.#send({ type: "auth", token });
    });
    socket.addEventListener("message", (message) => {
      if (socket !== this.#socket) return;
      this.#heardAt = Date.now();
      this.#receive(JSON.parse(message.data));
    });
    socket.addEventListener("close", (event) => this.#closed(socket, event.code));
  }

  #receive(frame) {
    switch (frame.type) {
      case "auth.ok":
        // Also the answer to each renewal: subscribe only once per connection.
        if (!this.#signedIn) {
          this.#signedIn = true;
          this.#subscribe();
          this.#keepAlive();
        }
        break;
      case "event":
        if (frame.project === this.project && frame.seq > this.lastSeq) {
          this.lastSeq = frame.seq;
          this.onEvent(frame);
        }
        break;
      case "skip":
        if (frame.project === this.project) this.lastSeq = Math.max(this.lastSeq, frame.to);
        break;
      case "subscribed":
        this.#subscribed = true;
        this.#attempts = 0;
        this.lastSeq = Math.max(this.lastSeq, frame.seq);
        this.onStatus("live");
        this.#send({ type: "presence", project: this.project, task: this.#task });
        break;
      case "presence":
        if (frame.project === this.project) this.onPresence(frame.viewers);
        break;
      case "reset":
        this.#subscribed = false;
        this.onReset();
        break;
      case "revoked":
        this.stop("revoked");
        break;
      case "error":
        // not_found: the project is gone, or the user is no longer a member.
        if (frame.code === "not_found" && frame.project === this.project) this.stop("revoked");
        break;
    }
  }

  #subscribe() {
    this.#send({ type: "subscribe", project: this.project, since: this.lastSeq });
  }

  #keepAlive() {
    clearInterval(this.#ping);
    this.#ping = setInterval(() => {
      if (Date.now() - this.#heardAt > SILENCE_MS) {
        this.#socket?.close();
        return;
      }
      this.#send({ type: "ping" });
    }, PING_MS);
  }

  #send(frame) {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(JSON.stringify(frame));
  }

  async #closed(socket, code) {
    if (socket !== this.#socket) return;
    clearInterval(this.#ping);
    this.#signedIn = this.#subscribed = false;
    if (this.#stopped) return;
    this.onStatus("reconnecting");
    if (code === 4401) {
      try {
        await this.api.renew();
      } catch {
        // Signed out (the API has sent the page to the sign-in form), or the server is away.
      }
    }
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.#connect(), backoff(this.#attempts++, { base: 300 }));
  }

  /** Stop following: nothing more will come (`revoked`: access to the project ended). */
  stop(state) {
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearInterval(this.#ping);
    this.#socket?.close(1000);
    this.onStatus(state);
  }
}
