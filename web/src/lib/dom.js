// Tiny DOM helpers: build elements without innerHTML (no markup injection).

/**
 * h("button", { class: "x", onclick: fn, "aria-label": "…" }, "Text", child)
 * Attributes starting with "on" become listeners; false/null are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const DATE_TIME = new Intl.DateTimeFormat("de-DE", { dateStyle: "short", timeStyle: "medium" });

/** A <time> element for an ISO string or epoch milliseconds. */
export function timeElement(value) {
  if (value === null || value === undefined || value === "") return h("span", {}, "–");
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return h("span", {}, "–");
  return h("time", { datetime: date.toISOString() }, DATE_TIME.format(date));
}

/** Put a short message into a live region (screen readers read it out). */
export function announce(region, text, kind = "info") {
  region.textContent = text;
  region.dataset.kind = kind;
}

export function pretty(value) {
  if (value === undefined) return "–";
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}
