/**
 * Building the page's elements. Whatever users typed (titles, descriptions, labels, comments,
 * names, file names) becomes text nodes, never markup: `el()` takes children as strings or nodes
 * and never parses HTML.
 */

/**
 * An element: `el("li", {class: "card", dataset: {task: 4}}, "text", child)`. Attributes with
 * null, undefined or false values are left out; `true` gives an empty attribute.
 */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** A due date as people read it, in their own time zone and language. */
export function dueText(iso) {
  const parts = { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  return new Date(iso).toLocaleString(undefined, parts);
}

/** A moment as people read it, with the year. */
export function momentText(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The value of a `datetime-local` input for an ISO time (local time, to the minute), or "". */
export function localInputValue(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  return new Date(moment.getTime() - moment.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/** The ISO time (UTC) of a `datetime-local` input's value, or null when it is empty. */
export function isoFromInput(value) {
  return value ? new Date(value).toISOString() : null;
}

/** A file size as people read it. */
export function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Labels typed as a comma-separated list. */
export function labelsFromInput(value) {
  return value
    .split(",")
    .map((label) => label.trim())
    .filter(Boolean);
}

/** Whether two field values are the same (labels are lists). */
export function sameValue(a, b) {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
