/**
 * A project's board: one column per status, cards in their order, kept live.
 *
 * Loading: the comment counts first (true at their `event_seq`), then the project, its members and
 * its tasks (true at least at the list's `X-Event-Seq`); the WebSocket then follows the project
 * from the smaller of the two seqs, so that no event is missed (a replayed task event older than
 * the loaded task is ignored by its version; a comment event counts only after the counts' seq).
 *
 * Moving a card (drag and drop, or the keyboard: Shift+arrows) shows it moved at once and sends
 * `PATCH {status, position}`; every change is sent with the version it was based on, so a change
 * someone else made first is never overwritten silently (the conflict dialog asks).
 */

import { Api } from "./api.js";
import { CardDialog, ConflictDialog } from "./dialogs.js";
import { dueText, el } from "./dom.js";
import { LiveConnection } from "./live.js";
import { BoardState, positionBetween } from "./state.js";

const STATUS_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  revoked: "You no longer have access to this project: the board has stopped updating.",
};
// How long focus must rest on a card before the others are told (arrowing through cards is not looking).
const PRESENCE_DELAY_MS = 300;

export class Board {
  constructor(root) {
    this.root = root;
    this.project = Number(root.dataset.project);
    this.me = Number(root.dataset.user);
    this.state = new BoardState();
    this.viewers = [];
    this.revoked = false;
    this.dragging = null; // the id of the card being dragged
    this.renderPending = false;
    this.renderAfterDrag = false;
    this.lookTimer = null;
    this.reportTimer = null;
    this.columns = new Map(
      [...root.querySelectorAll(".column")].map((section) => [
        section.dataset.status,
        {
          section,
          list: section.querySelector(".cards"),
          count: section.querySelector(".count"),
          label: section.querySelector(".label").textContent,
        },
      ]),
    );
    this.statuses = [...this.columns.keys()];
    this.api = new Api({
      sessionTokenUrl: root.dataset.sessionTokenUrl,
      csrfToken: root.dataset.csrfToken,
      onSignedOut: () => location.assign(`${root.dataset.loginUrl}?next=${encodeURIComponent(location.pathname)}`),
    });
    const websocket = new URL(root.dataset.websocketPath, location.href);
    websocket.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    this.live = new LiveConnection({
      api: this.api,
      project: this.project,
      url: websocket.href,
      onEvent: (frame) => this.#event(frame),
      onPresence: (viewers) => this.#presence(viewers),
      onStatus: (state) => this.#status(state),
      onReset: () => this.#reload(),
    });
    this.cardDialog = new CardDialog(this, document.getElementById("card-dialog"));
    this.conflictDialog = new ConflictDialog(this, document.getElementById("conflict-dialog"));
    this.#bind();
  }

  get canWrite() {
    return !this.revoked && this.state.project !== null && this.state.project.role !== "viewer";
  }

  async start() {
    this.#status("connecting");
    try {
      const since = await this.#load();
      this.render();
      this.live.start(since);
    } catch (error) {
      this.report(`The board could not be loaded: ${error.message}`);
    }
  }

  /** Load everything over REST; returns the seq to follow the project from. */
  async #load() {
    const base = `/api/projects/${this.project}`;
    const { data: counts } = await this.api.request("GET", `${base}/comment-counts/`);
    const [project, members, tasks] = await Promise.all([
      this.api.request("GET", `${base}/`),
      this.api.all(`${base}/members/`),
      this.api.all(`/api/tasks/?project=${this.project}&page_size=200`),
    ]);
    this.state.load({ project: project.data, members: members.results, tasks: tasks.results, counts });
    for (const form of this.root.querySelectorAll(".add-card")) form.hidden = !this.canWrite;
    return Math.min(counts.event_seq, Number(tasks.headers.get("X-Event-Seq")));
  }

  /** The server cannot replay what was missed (`reset`): load again, then follow from there. */
  async #reload() {
    for (let attempt = 0; ; attempt++) {
      try {
        const since = await this.#load();
        this.render();
        this.live.resubscribe(since);
        return;
      } catch (error) {
        this.report(`Reloading the board failed (${error.message}); trying again.`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 1000 * 2 ** attempt)));
      }
    }
  }

  #event(frame) {
    this.state.apply(frame);
    if (this.cardDialog.isOpen && frame.data.task === this.cardDialog.taskId) this.cardDialog.take(frame);
    this.scheduleRender();
  }

  #presence(viewers) {
    this.viewers = viewers;
    const others = [...new Set(viewers.filter((viewer) => viewer.user !== this.me).map((viewer) => viewer.username))];
    document.getElementById("presence").textContent = others.length
      ? `Also here: ${others.join(", ")}`
      : "Nobody else is looking at this board.";
    this.scheduleRender();
  }

  /** Who else looks at a task (usernames). */
  viewersOf(taskId) {
    return this.viewers.filter((viewer) => viewer.task === taskId && viewer.user !== this.me).map((v) => v.username);
  }

  #status(state) {
    if (state === "revoked") {
      this.revoked = true;
      for (const form of this.root.querySelectorAll(".add-card")) form.hidden = true;
    }
    if (state !== "live") {
      // Who looks is known again once subscribed: until then, nobody is shown as looking.
      this.viewers = [];
      document.getElementById("presence").textContent = "";
      this.scheduleRender();
    }
    const status = document.getElementById("live-status");
    status.dataset.state = state;
    status.textContent = STATUS_TEXT[state];
  }

  statusLabel(status) {
    return this.columns.get(status)?.label ?? status;
  }

  /** Where a task is in its column, in words. */
  placeText(task) {
    const column = this.state.column(task.status);
    const index = column.findIndex((other) => other.id === task.id);
    return `${index + 1} of ${column.length} in ${this.statusLabel(task.status)}`;
  }

  // --- Rendering -----------------------------------------------------------------------------

  scheduleRender() {
    if (this.renderPending) return;
    this.renderPending = true;
    requestAnimationFrame(() => this.render());
  }

  render() {
    this.renderPending = false;
    if (this.dragging !== null) {
      // Replacing the card being dragged would end the drag: render once it is dropped.
      this.renderAfterDrag = true;
      return;
    }
    const focused = document.activeElement?.closest?.(".card")?.dataset.task;
    if (this.state.project) {
      // project.updated may rename it.
      this.root.querySelector(".board-head h1").textContent = this.state.project.name;
      document.title = `${this.state.project.name} · TaskFlow`;
    }
    for (const [status, column] of this.columns) {
      const tasks = this.state.column(status);
      column.list.replaceChildren(...tasks.map((task) => this.#card(task)));
      column.count.textContent = String(tasks.length);
    }
    if (focused) this.focusCard(Number(focused), { scroll: false });
    this.cardDialog.refresh();
  }

  #card(task) {
    const assignee = this.state.username(task.assignee);
    const comments = this.state.commentCounts.get(task.id) ?? 0;
    const done = task.checklist.filter((item) => item.done).length;
    const overdue = task.due_at && !task.completed_at && Date.parse(task.due_at) < Date.now();
    const viewers = this.viewersOf(task.id);
    return el(
      "li",
      {
        class: "card",
        tabindex: "0",
        draggable: this.canWrite ? "true" : "false",
        "aria-roledescription": "card",
        dataset: { task: task.id },
      },
      el("h3", { class: "card-title" }, task.title),
      el(
        "p",
        { class: "card-meta" },
        el("span", { class: `priority priority-${task.priority}` }, task.priority),
        el("span", { class: "assignee" }, assignee ?? "unassigned"),
        task.due_at
          ? el("time", { class: overdue ? "due overdue" : "due", datetime: task.due_at }, `due ${dueText(task.due_at)}`)
          : null,
      ),
      task.labels.length ? el("ul", { class: "labels" }, ...task.labels.map((label) => el("li", {}, label))) : null,
      el(
        "p",
        { class: "card-counts" },
        task.checklist.length
          ? el("span", { class: "checklist-progress" }, `${done}/${task.checklist.length} done`)
          : null,
        el("span", { class: "comment-count" }, comments === 1 ? "1 comment" : `${comments} comments`),
      ),
      viewers.length ? el("p", { class: "card-viewers" }, `Looking: ${viewers.join(", ")}`) : null,
    );
  }

  /** Focus a card; `scroll: false` leaves the page where it is (a re-render, not a move). */
  focusCard(taskId, { scroll = true } = {}) {
    this.root.querySelector(`.card[data-task="${taskId}"]`)?.focus({ preventScroll: !scroll });
  }

  announce(text) {
    const announcer = document.getElementById("announcer");
    announcer.textContent = "";
    // A new text node a moment later: screen readers announce a change, even to the same words.
    setTimeout(() => {
      announcer.textContent = text;
    }, 50);
  }

  report(text) {
    const line = document.getElementById("board-error");
    line.textContent = text;
    clearTimeout(this.reportTimer);
    this.reportTimer = setTimeout(() => {
      line.textContent = "";
    }, 10_000);
  }

  // --- Writes --------------------------------------------------------------------------------

  /**
   * Send the fields a user changed on `base` (the version they started from), merged with what
   * others changed meanwhile. Resolves to the task as saved; on a conflict, to what the conflict
   * dialog ends with (the task saved again, or null when the user kept the current version).
   * Rejects, with the card shown as the server has it, when the change could not be made.
   */
  async save(base, changes) {
    try {
      const { data } = await this.api.request("PATCH", `/api/tasks/${base.id}/`, {
        body: changes,
        version: base.version,
        merge: true,
      });
      this.state.put(data);
      this.render();
      return data;
    } catch (error) {
      if (error.status === 412 && error.body) {
        const current = error.body.current ?? error.body;
        this.state.put(current);
        this.render();
        return this.conflictDialog.ask({ current, changes, conflicts: error.body.conflicts ?? [] });
      }
      if (error.status === 404) {
        this.state.tasks.delete(base.id);
      } else if (this.state.tasks.get(base.id)?.version === base.version) {
        this.state.tasks.set(base.id, base); // what was shown ahead of the answer goes back
      }
      this.render();
      throw error;
    }
  }

  /** Move a card to `index` in the column of `status` (counted without the card itself). */
  async move(taskId, status, index) {
    const task = this.state.tasks.get(taskId);
    if (!task || !this.canWrite) return;
    const others = this.state.column(status).filter((other) => other.id !== taskId);
    const at = Math.max(0, Math.min(index, others.length));
    const position = positionBetween(others[at - 1], others[at]);
    if (task.status === status && this.state.column(status).indexOf(task) === at) return; // where it is
    this.state.tasks.set(taskId, { ...task, status, position }); // shown at once
    this.render();
    this.focusCard(taskId);
    this.announce(`“${task.title}” moved to ${this.statusLabel(status)}, ${at + 1} of ${others.length + 1}.`);
    try {
      await this.save(task, { status, position });
    } catch (error) {
      this.report(`“${task.title}” could not be moved: ${error.message}`);
      this.announce(`“${task.title}” could not be moved.`);
    }
  }

  async #create(form) {
    const title = form.elements.title.value.trim();
    if (!title) return;
    const status = form.dataset.status;
    const last = this.state.column(status).at(-1);
    try {
      const { data } = await this.api.request("POST", "/api/tasks/", {
        body: { project: this.project, title, status, position: positionBetween(last, undefined) },
      });
      form.reset();
      this.state.put(data);
      this.render();
      this.announce(`Card “${data.title}” added to ${this.statusLabel(status)}.`);
    } catch (error) {
      this.report(`The card could not be added: ${error.message}`);
    }
  }

  // --- Interaction ---------------------------------------------------------------------------

  #bind() {
    for (const form of this.root.querySelectorAll(".add-card")) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        this.#create(form);
      });
    }
    this.root.addEventListener("click", (event) => {
      const card = event.target.closest(".card");
      if (card) this.open(Number(card.dataset.task));
    });
    this.root.addEventListener("keydown", (event) => this.#key(event));
    this.root.addEventListener("focusin", (event) => {
      const card = event.target.closest(".card");
      if (card) this.#lookSoon(Number(card.dataset.task));
    });
    this.root.addEventListener("focusout", (event) => {
      if (!event.relatedTarget?.closest?.(".card") && !this.cardDialog.isOpen) this.#lookSoon(null);
    });
    this.root.addEventListener("dragstart", (event) => {
      const card = event.target.closest(".card");
      if (!card || !this.canWrite) return;
      this.dragging = Number(card.dataset.task);
      card.classList.add("dragging");
      if (event.dataTransfer) {
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", card.querySelector(".card-title").textContent);
      }
    });
    this.root.addEventListener("dragend", () => this.#dragEnd());
    for (const [status, column] of this.columns) {
      column.section.addEventListener("dragover", (event) => {
        if (this.dragging === null) return;
        event.preventDefault();
        if (event.dataTransfer) event.dataTransfer.dropEffect = "move";
        this.#marker(column.list, this.#dropIndex(column.list, event.clientY));
      });
      column.section.addEventListener("drop", (event) => {
        if (this.dragging === null) return;
        event.preventDefault();
        const taskId = this.dragging;
        const index = this.#dropIndex(column.list, event.clientY);
        this.#dragEnd();
        this.move(taskId, status, index);
      });
    }
  }

  /** Where a card dropped at `y` goes in `list`: before the first card whose middle is below it. */
  #dropIndex(list, y) {
    const cards = [...list.querySelectorAll(".card")].filter((card) => Number(card.dataset.task) !== this.dragging);
    const index = cards.findIndex((card) => {
      const box = card.getBoundingClientRect();
      return y < box.top + box.height / 2;
    });
    return index === -1 ? cards.length : index;
  }

  #marker(list, index) {
    const marker = this.root.querySelector(".drop-marker") ?? el("li", { class: "drop-marker", "aria-hidden": "true" });
    const cards = [...list.querySelectorAll(".card")].filter((card) => Number(card.dataset.task) !== this.dragging);
    list.insertBefore(marker, cards[index] ?? null);
  }

  #dragEnd() {
    this.dragging = null;
    this.root.querySelector(".drop-marker")?.remove();
    for (const card of this.root.querySelectorAll(".card.dragging")) card.classList.remove("dragging");
    if (this.renderAfterDrag) {
      this.renderAfterDrag = false;
      this.render();
    }
  }

  /**
   * Keys on a focused card: arrows go to the card above, below, or in the next column; Shift with
   * an arrow moves the card there; Enter (or Space) opens it.
   */
  #key(event) {
    const card = event.target.closest?.(".card");
    if (!card || event.target !== card || event.altKey || event.ctrlKey || event.metaKey) return;
    const task = this.state.tasks.get(Number(card.dataset.task));
    if (!task) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      this.open(task.id);
      return;
    }
    const steps = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
    if (!(event.key in steps)) return;
    event.preventDefault();
    const [across, down] = steps[event.key];
    const column = this.state.column(task.status);
    const index = column.findIndex((other) => other.id === task.id);
    const status = this.statuses[this.statuses.indexOf(task.status) + across];
    if (status === undefined) {
      this.announce(across < 0 ? "This is the first column." : "This is the last column.");
      return;
    }
    if (!event.shiftKey) {
      const target = across ? this.state.column(status) : column;
      const next = target[Math.max(0, Math.min(index + down, target.length - 1))];
      if (next) this.focusCard(next.id);
      return;
    }
    if (!this.canWrite) {
      this.announce("You can read this board but not change it.");
      return;
    }
    if (!across && (index + down < 0 || index + down >= column.length)) {
      this.announce(down < 0 ? "Already at the top." : "Already at the bottom.");
      return;
    }
    // Up and down swap places with the neighbour; across keeps the card's height where it can.
    this.move(task.id, status, across ? index : index + down);
  }

  #lookSoon(taskId) {
    clearTimeout(this.lookTimer);
    this.lookTimer = setTimeout(() => this.live.look(taskId), PRESENCE_DELAY_MS);
  }

  open(taskId) {
    clearTimeout(this.lookTimer);
    this.live.look(taskId);
    this.cardDialog.open(taskId);
  }

  /** The card dialog closed: back to the card, and to looking at it (or at the board). */
  closed(taskId) {
    this.live.look(null);
    if (taskId !== null && this.state.tasks.has(taskId)) this.focusCard(taskId);
  }
}

const root = document.getElementById("board");
if (root) new Board(root).start();
