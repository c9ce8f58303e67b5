/**
 * The board's two dialogs: a card opened (edit it, comment, attach files) and a conflict (someone
 * else changed what the user was changing).
 *
 * An edit is sent as the fields the user changed, based on the version the dialog opened with,
 * with `Prefer: merge`: changes others made meanwhile to other fields are kept, and only a field
 * both changed comes back as a 412, which the conflict dialog shows with its current value and the
 * user's, letting the user apply theirs again on top of the current version.
 */

import { dueText, el, isoFromInput, labelsFromInput, localInputValue, momentText, sameValue, sizeText } from "./dom.js";

const FIELD_NAMES = {
  title: "Title",
  description: "Description",
  status: "Column",
  position: "Place in the column",
  priority: "Priority",
  assignee: "Assignee",
  due_at: "Due",
  labels: "Labels",
};

export class CardDialog {
  /** @param {import("./board.js").Board} board */
  constructor(board, element) {
    this.board = board;
    this.element = element;
    this.form = element.querySelector("#card-form");
    this.taskId = null;
    this.base = null; // the version the edit is based on
    this.comments = new Map();
    this.attachments = new Map();
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#save();
    });
    element.querySelector("#comment-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.#comment(event.target);
    });
    element.querySelector("#attachment-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.#attach(event.target);
    });
    element.querySelector("[data-close]").addEventListener("click", () => element.close());
    element.addEventListener("close", () => {
      const closed = this.taskId;
      this.taskId = null;
      board.closed(closed);
    });
  }

  get isOpen() {
    return this.taskId !== null;
  }

  open(taskId) {
    const task = this.board.state.tasks.get(taskId);
    if (!task) return;
    this.taskId = taskId;
    this.base = task;
    this.#message("");
    const writable = this.board.canWrite;
    for (const control of this.element.querySelectorAll("input, textarea, select, button[type=submit]")) {
      control.disabled = !writable;
    }
    this.#fillAssignees();
    this.#fillForm(task);
    this.refresh();
    this.comments.clear();
    this.attachments.clear();
    this.#renderComments();
    this.#renderAttachments();
    if (!this.element.open) this.element.showModal();
    this.form.elements.title.focus();
    this.#load(taskId);
  }

  async #load(taskId) {
    try {
      const [comments, attachments] = await Promise.all([
        this.board.api.all(`/api/tasks/${taskId}/comments/`),
        this.board.api.all(`/api/tasks/${taskId}/attachments/`),
      ]);
      if (taskId !== this.taskId) return;
      for (const comment of comments.results) this.comments.set(comment.id, comment);
      for (const attachment of attachments.results) this.attachments.set(attachment.id, attachment);
      this.#renderComments();
      this.#renderAttachments();
    } catch (error) {
      this.#message(error.message);
    }
  }

  /** After the board's data changed: what the dialog shows of the card besides the user's draft. */
  refresh() {
    if (!this.isOpen) return;
    const task = this.board.state.tasks.get(this.taskId);
    const notice = this.element.querySelector("#card-notice");
    if (!task) {
      notice.textContent = "This card was deleted.";
      for (const control of this.element.querySelectorAll("input, textarea, select, button[type=submit]")) {
        control.disabled = true;
      }
      return;
    }
    this.element.querySelector("#card-dialog-title").textContent = task.title;
    notice.textContent =
      task.version > this.base.version
        ? "Someone else changed this card since you opened it. " +
          "Saving keeps their changes to the fields you did not change."
        : "";
    const done = task.checklist.filter((item) => item.done).length;
    this.element.querySelector("#card-checklist").replaceChildren(
      task.checklist.length ? `Checklist: ${done} of ${task.checklist.length} done` : "No checklist",
      ...(task.checklist.length
        ? [el("ul", {}, ...task.checklist.map((item) => el("li", { class: item.done ? "done" : null }, item.text)))]
        : []),
    );
    const others = this.board.viewersOf(this.taskId);
    this.element.querySelector("#card-viewers").textContent = others.length ? `Also looking: ${others.join(", ")}` : "";
  }

  /** A comment or attachment event of the open card. */
  take({ event, data }) {
    if (event === "comment.created" || event === "comment.updated") this.comments.set(data.id, data);
    else if (event === "comment.deleted") this.comments.delete(data.id);
    else if (event === "attachment.added") this.attachments.set(data.id, data);
    else if (event === "attachment.removed") this.attachments.delete(data.id);
    this.#renderComments();
    this.#renderAttachments();
  }

  #fillAssignees() {
    const select = this.form.elements.assignee;
    const members = [...this.board.state.members.values()].sort((a, b) => a.username.localeCompare(b.username));
    select.replaceChildren(
      el("option", { value: "" }, "Nobody"),
      ...members.map((member) => el("option", { value: member.user }, member.username)),
    );
  }

  #fillForm(task) {
    const fields = this.form.elements;
    fields.title.value = task.title;
    fields.description.value = task.description;
    fields.priority.value = task.priority;
    fields.assignee.value = task.assignee ?? "";
    fields.due_at.value = localInputValue(task.due_at);
    fields.labels.value = task.labels.join(", ");
  }

  /** The fields the user changed, compared with the version the edit is based on. */
  #changes() {
    const fields = this.form.elements;
    const base = this.base;
    const changes = {};
    if (fields.title.value !== base.title) changes.title = fields.title.value;
    if (fields.description.value !== base.description) changes.description = fields.description.value;
    if (fields.priority.value !== base.priority) changes.priority = fields.priority.value;
    const assignee = fields.assignee.value ? Number(fields.assignee.value) : null;
    if (assignee !== base.assignee) changes.assignee = assignee;
    if (fields.due_at.value !== localInputValue(base.due_at)) changes.due_at = isoFromInput(fields.due_at.value);
    const labels = labelsFromInput(fields.labels.value);
    if (!sameValue(labels, base.labels)) changes.labels = labels;
    return changes;
  }

  async #save() {
    const changes = this.#changes();
    if (!Object.keys(changes).length) {
      this.#message("Nothing to save: no field was changed.");
      return;
    }
    const button = this.form.querySelector("button[type=submit]");
    button.disabled = true;
    this.#message("Saving…");
    try {
      const saved = await this.board.save(this.base, changes);
      if (saved) {
        this.saved(saved);
      } else if (this.board.state.tasks.has(this.taskId)) {
        // The user kept the current version in the conflict dialog: the draft goes.
        this.saved(this.board.state.tasks.get(this.taskId), "Kept the current version; your change was not saved.");
      }
    } catch (error) {
      this.#message(error.message); // the draft stays, to save again
    } finally {
      button.disabled = !this.board.canWrite;
    }
  }

  /** The card is now `task` as saved: edits start from it. */
  saved(task, message = "Saved.") {
    if (task.id !== this.taskId) return;
    this.base = task;
    this.#fillForm(task);
    this.refresh();
    this.#message(message);
  }

  async #comment(form) {
    const body = form.elements.body.value;
    if (!body.trim()) return;
    try {
      const { data } = await this.board.api.request("POST", `/api/tasks/${this.taskId}/comments/`, { body: { body } });
      form.reset();
      if (data.task === this.taskId) this.comments.set(data.id, data);
      this.#renderComments();
    } catch (error) {
      this.#message(error.message);
    }
  }

  async #attach(form) {
    const file = form.elements.file.files[0];
    if (!file) return;
    const upload = new FormData();
    upload.append("file", file);
    this.#message(`Uploading ${file.name}…`);
    try {
      const { data } = await this.board.api.request("POST", `/api/tasks/${this.taskId}/attachments/`, { form: upload });
      form.reset();
      if (data.task === this.taskId) this.attachments.set(data.id, data);
      this.#renderAttachments();
      this.#message(`Attached ${data.filename}.`);
    } catch (error) {
      this.#message(error.message);
    }
  }

  async #download(attachment) {
    try {
      const url = URL.createObjectURL(await this.board.api.blob(`/api/attachments/${attachment.id}/download/`));
      const link = el("a", { href: url, download: attachment.filename });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      this.#message(error.message);
    }
  }

  #renderComments() {
    const comments = [...this.comments.values()].sort((a, b) => a.id - b.id);
    this.element.querySelector("#card-comments").replaceChildren(
      ...(comments.length
        ? comments.map((comment) =>
            el(
              "li",
              { class: "comment", dataset: { comment: comment.id } },
              el(
                "p",
                { class: "comment-meta" },
                el("strong", {}, this.board.state.username(comment.author) ?? "a former user"),
                " · ",
                el("time", { datetime: comment.created_at }, momentText(comment.created_at)),
              ),
              el("p", { class: "comment-body" }, comment.body),
            ),
          )
        : [el("li", { class: "empty" }, "No comments yet.")]),
    );
  }

  #renderAttachments() {
    const attachments = [...this.attachments.values()].sort((a, b) => a.id - b.id);
    this.element.querySelector("#card-attachments").replaceChildren(
      ...(attachments.length
        ? attachments.map((attachment) => {
            const download = el("button", { type: "button", class: "link" }, "Download");
            download.addEventListener("click", () => this.#download(attachment));
            return el(
              "li",
              { class: "attachment", dataset: { attachment: attachment.id } },
              el("span", { class: "filename" }, attachment.filename),
              ` (${sizeText(attachment.size)}) `,
              download,
            );
          })
        : [el("li", { class: "empty" }, "No files attached.")]),
    );
  }

  #message(text) {
    this.element.querySelector("#card-message").textContent = text;
  }
}

export class ConflictDialog {
  /** @param {import("./board.js").Board} board */
  constructor(board, element) {
    this.board = board;
    this.element = element;
    this.pending = null; // the promise of ask(): {resolve, reject}
    element.querySelector("#conflict-apply").addEventListener("click", () => this.#finish(true));
    element.querySelector("#conflict-keep").addEventListener("click", () => this.#finish(false));
    element.addEventListener("cancel", (event) => {
      event.preventDefault();
      this.#finish(false);
    });
  }

  /**
   * Show what conflicts, and wait for the user: resolves to the saved task when they applied their
   * change again (on top of the current version), or null when they kept the current version;
   * rejects when applying again failed otherwise.
   */
  ask({ current, changes, conflicts }) {
    this.pending?.resolve(null);
    this.changes = changes;
    this.taskId = current.id;
    const fields = conflicts.length ? conflicts : Object.keys(changes);
    this.element.querySelector("#conflict-intro").textContent =
      `Someone else changed “${current.title}” while you were changing it. It is now at version ${current.version}.`;
    this.element.querySelector("#conflict-rows").replaceChildren(
      ...fields.map((field) =>
        el(
          "tr",
          { dataset: { field } },
          el("th", { scope: "row" }, FIELD_NAMES[field] ?? field),
          el("td", { class: "current" }, this.#describe(field, current[field], current)),
          el("td", { class: "yours" }, this.#describe(field, changes[field], { ...current, ...changes }, true)),
        ),
      ),
    );
    if (!this.element.open) this.element.showModal();
    this.element.querySelector("#conflict-apply").focus();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
    });
  }

  #finish(apply) {
    const pending = this.pending;
    this.pending = null;
    this.element.close();
    if (!pending) return;
    // On top of the current version, as the board knows it now (events may have come since).
    const current = this.board.state.tasks.get(this.taskId);
    if (!apply || !current) {
      pending.resolve(null);
      return;
    }
    this.board.save(current, this.changes).then(pending.resolve, pending.reject);
  }

  #describe(field, value, task, yours = false) {
    switch (field) {
      case "status":
        return this.board.statusLabel(value);
      case "position":
        return yours ? "where you put it" : this.board.placeText(task);
      case "assignee":
        return this.board.state.username(value) ?? "nobody";
      case "due_at":
        return value ? dueText(value) : "no due date";
      case "labels":
        return value.length ? value.join(", ") : "no labels";
      default:
        return value === "" || value === null || value === undefined ? "(empty)" : String(value);
    }
  }
}
