/**
 * What the board knows of its project: the project, its members, its tasks, and how many comments
 * each task has; loaded over REST, then kept true by applying the project's events in seq order
 * (docs/realtime.md, "Events": every event carries the whole object after the change).
 */

const byPosition = (a, b) => a.position - b.position || a.id - b.id;

export class BoardState {
  constructor() {
    this.project = null;
    this.members = new Map(); // user id -> member
    this.tasks = new Map(); // task id -> task
    this.commentCounts = new Map(); // task id -> comments
    // The seq the comment counts are true at: only comment events after it change them.
    this.countsSeq = 0;
  }

  /** Everything at once, from a (re)load. */
  load({ project, members, tasks, counts }) {
    this.project = project;
    this.members = new Map(members.map((member) => [member.user, member]));
    this.tasks = new Map(tasks.map((task) => [task.id, task]));
    this.commentCounts = new Map(counts.counts.map(({ task, count }) => [task, count]));
    this.countsSeq = counts.event_seq;
  }

  /** The tasks of a column, in the board's order. */
  column(status) {
    return [...this.tasks.values()].filter((task) => task.status === status).sort(byPosition);
  }

  /**
   * Store a task, unless a later version of it is known already: events replayed from before a
   * load, and answers that arrive after the event of a later change, must not take it back.
   * Returns whether it was stored.
   */
  put(task) {
    const known = this.tasks.get(task.id);
    if (known && known.version > task.version) return false;
    this.tasks.set(task.id, task);
    return true;
  }

  /** A username, for ids of users who may have left the project. */
  username(userId) {
    if (userId === null || userId === undefined) return null;
    return this.members.get(userId)?.username ?? `user ${userId}`;
  }

  /** Apply one event frame (`{seq, event, data, ...}`) of this project. */
  apply({ seq, event, data }) {
    switch (event) {
      case "task.created":
      case "task.updated":
        this.put(data);
        break;
      case "task.deleted":
        // Its comments and attachments go with it, without events of their own.
        this.tasks.delete(data.id);
        this.commentCounts.delete(data.id);
        break;
      case "project.updated":
        this.project = { ...this.project, ...data };
        break;
      case "member.added":
      case "member.updated":
        this.members.set(data.user, data);
        break;
      case "member.removed":
        this.members.delete(data.user);
        break;
      case "comment.created":
        if (seq > this.countsSeq) this.commentCounts.set(data.task, (this.commentCounts.get(data.task) ?? 0) + 1);
        break;
      case "comment.deleted":
        if (seq > this.countsSeq) {
          this.commentCounts.set(data.task, Math.max(0, (this.commentCounts.get(data.task) ?? 0) - 1));
        }
        break;
    }
  }
}

/** A position for a card put between `before` and `after` (either may be missing). */
export function positionBetween(before, after) {
  if (before && after) return (before.position + after.position) / 2;
  if (before) return before.position + 1;
  if (after) return after.position - 1;
  return 0;
}
