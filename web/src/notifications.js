// Notification center: the user's notifications, live over Socket.IO.
//
// On every (re)connect the unread notifications are fetched again, so nothing
// the worker emitted while this page was away is missed (pub/sub does not
// replay). Items are keyed by id: one that arrives twice is shown once.

import { io } from "socket.io-client";
import { ApiError, api, goToLogin } from "./lib/http.js";
import { announce, h, timeElement } from "./lib/dom.js";
import { wireHeader } from "./lib/header.js";
import { RunningJobs } from "./running.js";

const PAGE_SIZE = 20;
// The server counts unread notifications up to this many (UNREAD_CAP in
// services/notifications.py) and says `unreadCountCapped` when it stopped there.
const UNREAD_CAP = 1000;
const RECONNECT_AFTER_REFUSAL_MS = 3000;

const page = document.body.dataset;
const isAdmin = page.role === "ADMIN";
const list = document.getElementById("notification-list");
const badge = document.getElementById("unread-badge");
const empty = document.getElementById("empty");
const loadMore = document.getElementById("load-more");
const live = document.getElementById("live");
const status = document.getElementById("status");
const connection = document.getElementById("connection-status");
const running = new RunningJobs({
  section: document.getElementById("running"),
  list: document.getElementById("running-list"),
  live: document.getElementById("running-live"),
  userId: page.userId,
});

const items = new Map(); // id -> notification
let unread = 0;
// At the cap the count is "UNREAD_CAP or more": shown as "999+", never counted on locally.
let unreadCapped = false;
let nextCursor = null;

function setUnread(count, capped = false) {
  unread = Math.max(0, count);
  unreadCapped = capped || unread >= UNREAD_CAP;
  const shown = unreadCapped ? `${UNREAD_CAP - 1}+` : String(unread);
  badge.textContent = shown;
  let label = `${unread} ungelesene Benachrichtigungen`;
  if (unreadCapped) label = `Mehr als ${UNREAD_CAP - 1} ungelesene Benachrichtigungen`;
  else if (unread === 1) label = "1 ungelesene Benachrichtigung";
  badge.setAttribute("aria-label", label);
  badge.hidden = false;
  badge.classList.toggle("badge-zero", unread === 0);
  document.title = unread > 0 ? `(${shown}) Benachrichtigungen` : "Benachrichtigungen";
}

/** The count from the server again (one item's page carries it). */
async function refreshUnread() {
  const result = await api("/api/notifications?limit=1");
  setUnread(result.unreadCount, result.unreadCountCapped);
}

/**
 * One more or one fewer unread. Below the cap the badge counts on by itself;
 * at the cap one more is still "999+", and one fewer may or may not drop below
 * it, which only the server knows.
 */
function changeUnread(delta) {
  if (!unreadCapped) {
    setUnread(unread + delta);
  } else if (delta < 0) {
    refreshUnread().catch((error) => announce(status, error.message, "error"));
  }
}

function isFailedJob(item) {
  const data = item.data || {};
  return (
    /fail/i.test(String(item.type)) &&
    typeof data.jobId === "string" &&
    typeof data.queue === "string"
  );
}

function isOwn(item) {
  return !item.userId || item.userId === page.userId;
}

function updateEmpty() {
  empty.hidden = items.size > 0;
}

function render(item) {
  const titleId = `n-${item.id}-title`;
  const outcome = h("span", { class: "outcome", role: "status" });
  const actions = h("div", { class: "actions" });

  if (isFailedJob(item) && isOwn(item)) {
    // A permanent failure (an invalid payload, say) fails the same way again:
    // admins may still retry once they fixed its cause; others are told why not.
    const permanent = item.data.retryable === false;
    if (!permanent || isAdmin) {
      const retry = h("button", { type: "button", class: "primary retry" }, "Erneut versuchen");
      retry.addEventListener("click", () => retryJob(item, retry, outcome));
      actions.append(retry);
    }
    if (permanent) {
      actions.append(
        h(
          "span",
          { class: "retry-hint" },
          isAdmin
            ? "Ursache zuerst beheben: ein erneuter Versuch scheitert sonst genauso."
            : "Ein erneuter Versuch würde genauso scheitern. Die Administration ist informiert.",
        ),
      );
    }
  }
  if (isOwn(item)) {
    if (!item.read) {
      const read = h("button", { type: "button", class: "mark-read" }, "Als gelesen markieren");
      read.addEventListener("click", () => markRead(item));
      actions.append(read);
    }
    const dismiss = h(
      "button",
      { type: "button", class: "dismiss", "aria-label": `„${item.title}“ entfernen` },
      "Entfernen",
    );
    dismiss.addEventListener("click", () => dismissItem(item));
    actions.append(dismiss);
  }
  actions.append(outcome);

  return h(
    "li",
    {
      class: `notification${item.read ? "" : " unread"}${isFailedJob(item) ? " failed" : ""}`,
      dataset: { id: item.id, type: item.type },
    },
    h(
      "article",
      { "aria-labelledby": titleId },
      h(
        "header",
        {},
        h("h2", { id: titleId }, item.title),
        item.read ? null : h("span", { class: "pill" }, "Neu"),
        timeElement(item.createdAt),
      ),
      h("p", { class: "message" }, item.message),
      actions,
    ),
  );
}

function nodeFor(id) {
  return list.querySelector(`li[data-id="${CSS.escape(id)}"]`);
}

function replace(item) {
  items.set(item.id, item);
  const node = nodeFor(item.id);
  if (node) node.replaceWith(render(item));
}

/** Add items in server order (newest first) below what is shown, skipping known ones. */
function append(newItems) {
  for (const item of newItems) {
    if (items.has(item.id)) {
      replace(item);
      continue;
    }
    items.set(item.id, item);
    list.append(render(item));
  }
  updateEmpty();
}

/** Put an item at its place by creation time (newest first). */
function insert(item) {
  items.set(item.id, item);
  const node = render(item);
  const stamp = Date.parse(item.createdAt);
  for (const other of list.children) {
    const otherItem = items.get(other.dataset.id);
    if (otherItem && Date.parse(otherItem.createdAt) <= stamp) {
      list.insertBefore(node, other);
      updateEmpty();
      return;
    }
  }
  list.append(node);
  updateEmpty();
}

async function loadPage(cursor) {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (cursor) query.set("cursor", cursor);
  const result = await api(`/api/notifications?${query}`);
  append(result.items);
  setUnread(result.unreadCount, result.unreadCountCapped);
  nextCursor = result.nextCursor;
  loadMore.hidden = !nextCursor;
}

/** After a (re)connect: whatever is unread and not shown yet goes to the top. */
async function refetchUnread() {
  const query = new URLSearchParams({ limit: "100", unreadOnly: "true" });
  const result = await api(`/api/notifications?${query}`);
  let added = 0;
  for (const item of result.items) {
    if (items.has(item.id)) {
      replace(item);
    } else {
      insert(item);
      added += 1;
    }
  }
  setUnread(result.unreadCount, result.unreadCountCapped);
  if (added > 0) {
    announce(live, added === 1 ? "1 neue Benachrichtigung" : `${added} neue Benachrichtigungen`);
  }
}

function receive(item) {
  if (!item || typeof item.id !== "string") return;
  running.ended(item);
  const known = items.get(item.id);
  if (known) {
    replace({ ...known, ...item });
    return;
  }
  insert(item);
  if (!item.read && isOwn(item)) changeUnread(1);
  announce(live, `Neue Benachrichtigung: ${item.title}. ${item.message}`);
}

async function markRead(item) {
  try {
    await api(`/api/notifications/${encodeURIComponent(item.id)}/read`, { method: "POST" });
    if (!item.read) changeUnread(-1);
    replace({ ...item, read: true });
    nodeFor(item.id)?.querySelector("button")?.focus();
  } catch (error) {
    announce(status, error.message, "error");
  }
}

async function dismissItem(item) {
  const node = nodeFor(item.id);
  const next = node?.nextElementSibling || node?.previousElementSibling;
  try {
    await api(`/api/notifications/${encodeURIComponent(item.id)}/dismiss`, { method: "POST" });
    if (!item.read) changeUnread(-1);
    items.delete(item.id);
    node?.remove();
    updateEmpty();
    announce(status, "Benachrichtigung entfernt.");
    (next?.querySelector("button") || list).focus();
  } catch (error) {
    announce(status, error.message, "error");
  }
}

async function markAllRead() {
  try {
    const result = await api("/api/notifications/read-all", { method: "POST" });
    for (const item of [...items.values()]) {
      if (!item.read) replace({ ...item, read: true });
    }
    // Usually 0; more when notifications arrived meanwhile.
    setUnread(result.unreadCount, result.unreadCountCapped);
    announce(status, "Alle Benachrichtigungen als gelesen markiert.");
  } catch (error) {
    announce(status, error.message, "error");
  }
}

async function retryJob(item, button, outcome) {
  button.disabled = true;
  outcome.textContent = "Wird erneut gestartet …";
  outcome.dataset.kind = "info";
  try {
    await api(`/api/jobs/${encodeURIComponent(item.data.jobId)}/retry`, { method: "POST" });
    outcome.textContent = "Erneut gestartet. Sie werden benachrichtigt, sobald er fertig ist.";
    outcome.dataset.kind = "success";
  } catch (error) {
    outcome.textContent = error.message;
    outcome.dataset.kind = "error";
    // Refused for good (not failed any more, not yours, gone): the button stays
    // off. A passing problem (server or network away) may be tried again.
    const passing = !(error instanceof ApiError) || error.status === 0 || error.status >= 500;
    button.disabled = !passing;
  }
}

async function enqueueTestJob(button) {
  button.disabled = true;
  try {
    const result = await api("/api/admin/test-job", { method: "POST" });
    running.started({ jobId: result.jobId, queue: result.queue, label: "Testauftrag" });
    announce(status, `Testauftrag ${result.jobId} wurde eingereiht.`, "success");
  } catch (error) {
    announce(status, error.message, "error");
  } finally {
    button.disabled = false;
  }
}

function setConnection(state, text) {
  connection.dataset.state = state;
  connection.textContent = text;
}

function connect() {
  const socket = io({ path: "/socket.io", withCredentials: true });
  socket.on("connect", () => {
    setConnection("connected", "Live verbunden");
    refetchUnread().catch((error) => announce(status, error.message, "error"));
    running.refresh().catch((error) => announce(status, error.message, "error"));
  });
  socket.on("disconnect", (reason) => {
    setConnection("disconnected", "Verbindung getrennt – verbinde neu …");
    if (reason === "io server disconnect") {
      // The server ends the sockets of a session that ended (a logout in another
      // tab, a deactivated account) and the client does not reconnect by itself:
      // ask who we are. A 401 goes to the login page; a live session reconnects.
      api("/api/auth/me")
        .then(() => socket.connect())
        .catch(() => {});
    }
  });
  socket.on("connect_error", (error) => {
    if (error && error.message === "unauthorized") {
      goToLogin();
      return;
    }
    setConnection("disconnected", "Keine Live-Verbindung – neuer Versuch …");
    // A refusal by the server (not a network error) is not retried by the
    // client library itself.
    if (!socket.active) setTimeout(() => socket.connect(), RECONNECT_AFTER_REFUSAL_MS);
  });
  socket.on("notification", receive);
  socket.on("job:progress", (event) => running.progress(event));
  return socket;
}

function wireControls() {
  document.getElementById("mark-all-read").addEventListener("click", markAllRead);
  loadMore.addEventListener("click", () =>
    loadPage(nextCursor).catch((error) => announce(status, error.message, "error")),
  );
  const testJob = document.getElementById("test-job");
  if (testJob) {
    testJob.hidden = !isAdmin;
    testJob.addEventListener("click", () => enqueueTestJob(testJob));
  }
}

async function main() {
  wireHeader();
  wireControls();
  try {
    await loadPage(null);
  } catch (error) {
    announce(status, error.message, "error");
  }
  connect();
}

main();
