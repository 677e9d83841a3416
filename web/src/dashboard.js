// Admin queue dashboard: counts per queue and state (refreshed every 2 s), the
// jobs of one state page by page, a job's detail, and confirmed actions.

import { api } from "./lib/http.js";
import { confirmAction } from "./lib/confirm.js";
import { announce, h, pretty, timeElement } from "./lib/dom.js";
import { wireHeader } from "./lib/header.js";
import { Schedules } from "./schedules.js";
import { Sparklines, ThroughputChart } from "./throughput.js";
import { Workers } from "./workers.js";

const REFRESH_MS = 2000;
const PAGE_SIZE = 20;

const STATE_LABELS = {
  waiting: "Wartend",
  active: "Aktiv",
  delayed: "Verzögert",
  prioritized: "Priorisiert",
  "waiting-children": "Wartet auf Unteraufträge",
  completed: "Abgeschlossen",
  failed: "Fehlgeschlagen",
  paused: "Pausiert (alt)",
};
const STATES = Object.keys(STATE_LABELS);

const queueBody = document.getElementById("queue-rows");
const jobsBody = document.getElementById("job-rows");
const jobsHeading = document.getElementById("jobs-heading");
const jobsSection = document.getElementById("jobs");
const pageInfo = document.getElementById("page-info");
const prevPage = document.getElementById("prev-page");
const nextPage = document.getElementById("next-page");
const status = document.getElementById("status");
const refreshed = document.getElementById("refreshed");
const detailDialog = document.getElementById("job-dialog");
const detailBody = document.getElementById("job-detail");
const cleanForm = document.getElementById("clean-form");

const selection = { queue: null, state: "failed", page: 1, total: 0 };
const lastCounts = new Map(); // queue -> counts
let refreshing = false;

const path = (queue, ...rest) =>
  ["/api/admin/queues", encodeURIComponent(queue), ...rest.map(encodeURIComponent)].join("/");

// A job just added here ("Jetzt ausführen") is followed: the list shown is the one
// it is in, from waiting to active to completed or failed (or for a minute).
const FOLLOW_MS = 60000;
const FINISHED = new Set(["completed", "failed"]);
let followed = null; // { queue, jobId, until }
let highlighted = null; // that job's id, marked in whichever list shows it

async function showFollowed() {
  if (!followed) return;
  const { queue, jobId } = followed;
  let state = "waiting";
  try {
    state = (await api(path(queue, "jobs", jobId))).state;
  } catch {
    // Not readable (yet): it was just added, so it waits.
  }
  if (!followed || followed.jobId !== jobId) return; // the admin chose another list meanwhile
  if (FINISHED.has(state) || Date.now() > followed.until) followed = null;
  if (!STATES.includes(state)) state = "waiting";
  if (selection.queue !== queue || selection.state !== state) select(queue, state, 1);
}

/** The admin's own choice of a list: it ends following a job. */
function choose(queue, state, page) {
  followed = null;
  highlighted = null;
  select(queue, state, page);
}

const SCHEDULES_REFRESH_MS = 15000;
const schedules = new Schedules({
  body: document.getElementById("schedule-rows"),
  status,
  onRun: async (job) => {
    followed = { queue: job.queue, jobId: job.jobId, until: Date.now() + FOLLOW_MS };
    highlighted = job.jobId;
    await showFollowed();
    await refreshCounts();
  },
});

const sparklines = new Sparklines({
  cellFor: (name) => queueBody.querySelector(`tr[data-queue="${CSS.escape(name)}"] .spark`),
});
const throughput = new ThroughputChart({
  section: document.getElementById("throughput"),
  heading: document.getElementById("throughput-heading"),
  switcher: document.getElementById("throughput-ranges"),
  figure: document.getElementById("throughput-figure"),
  summary: document.getElementById("throughput-summary"),
});
const workers = new Workers({
  body: document.getElementById("worker-rows"),
  count: document.getElementById("worker-count"),
});

/** The charts and the worker list, on the counts' refresh (the charts ask less often). */
function refreshExtras(queueNames) {
  sparklines.refresh(queueNames).catch(report);
  throughput.refresh().catch(report);
  workers.refresh().catch(report);
}

function report(error) {
  announce(status, error.message, "error");
}

// ---- queue table ------------------------------------------------------------

function queueRow(queue) {
  const cells = STATES.map((state) =>
    h(
      "td",
      { class: "count", dataset: { state } },
      h(
        "button",
        {
          type: "button",
          class: "link",
          "aria-label": `${queue.name}: ${STATE_LABELS[state]} anzeigen`,
          onclick: () => choose(queue.name, state, 1),
        },
        "0",
      ),
    ),
  );
  const pause = h("button", { type: "button", class: "pause-toggle" }, "Pausieren");
  pause.addEventListener("click", () => togglePause(queue.name));
  return h(
    "tr",
    { dataset: { queue: queue.name } },
    h(
      "th",
      { scope: "row" },
      h("span", { class: "queue-name" }, queue.name),
      h("br"),
      h("small", {}, queue.label),
      h("div", { class: "spark" }),
    ),
    h("td", { class: "queue-state" }, ""),
    ...cells,
    h("td", {}, pause),
  );
}

function updateRow(row, queue) {
  for (const state of STATES) {
    const button = row.querySelector(`td[data-state="${state}"] button`);
    button.textContent = String(queue.counts[state] ?? 0);
  }
  row.querySelector(".queue-state").textContent = queue.paused ? "pausiert" : "läuft";
  row.classList.toggle("paused", queue.paused);
  const toggle = row.querySelector(".pause-toggle");
  toggle.textContent = queue.paused ? "Fortsetzen" : "Pausieren";
  toggle.dataset.paused = queue.paused ? "true" : "false";
}

async function refreshCounts() {
  if (refreshing) return;
  refreshing = true;
  try {
    const result = await api("/api/admin/queues");
    for (const queue of result.queues) {
      let row = queueBody.querySelector(`tr[data-queue="${CSS.escape(queue.name)}"]`);
      if (!row) {
        row = queueRow(queue);
        queueBody.append(row);
      }
      updateRow(row, queue);
      const before = lastCounts.get(queue.name);
      lastCounts.set(queue.name, queue.counts);
      // The shown list changed underneath: load it again.
      if (
        before &&
        queue.name === selection.queue &&
        before[selection.state] !== queue.counts[selection.state]
      ) {
        loadJobs().catch(report);
      }
    }
    if (!selection.queue && result.queues.length > 0) select(result.queues[0].name, "failed", 1);
    refreshExtras(result.queues.map((queue) => queue.name));
    if (followed) await showFollowed();
    refreshed.textContent = `Aktualisiert: ${new Date().toLocaleTimeString("de-DE")}`;
    refreshed.dataset.kind = "info";
  } catch (error) {
    refreshed.textContent = error.message;
    refreshed.dataset.kind = "error";
  } finally {
    refreshing = false;
  }
}

async function togglePause(queue) {
  const row = queueBody.querySelector(`tr[data-queue="${CSS.escape(queue)}"]`);
  const paused = row.querySelector(".pause-toggle").dataset.paused === "true";
  const verb = paused ? "fortsetzen" : "pausieren";
  if (!(await confirmAction(`Queue „${queue}“ ${verb}?`, paused ? "Fortsetzen" : "Pausieren"))) return;
  try {
    await api(path(queue, paused ? "resume" : "pause"), { method: "POST" });
    announce(status, `Queue „${queue}“ ${paused ? "fortgesetzt" : "pausiert"}.`, "success");
    await refreshCounts();
  } catch (error) {
    report(error);
  }
}

// ---- jobs of one state ---------------------------------------------------------

function select(queue, state, page) {
  selection.queue = queue;
  selection.state = state;
  selection.page = page;
  loadJobs().catch(report);
  throughput.show(queue).catch(report);
}

function jobActions(job) {
  const actions = [
    h("button", { type: "button", class: "details", onclick: () => showJob(job.id) }, "Details"),
  ];
  if (selection.state === "failed") {
    actions.push(h("button", { type: "button", class: "retry", onclick: () => retry(job.id) }, "Erneut versuchen"));
  }
  if (selection.state === "delayed") {
    actions.push(h("button", { type: "button", class: "promote", onclick: () => promote(job.id) }, "Sofort ausführen"));
  }
  if (["active", "waiting", "delayed", "prioritized"].includes(selection.state)) {
    actions.push(h("button", { type: "button", class: "cancel danger", onclick: () => cancel(job.id) }, "Abbrechen"));
  }
  if (selection.state !== "active") {
    actions.push(h("button", { type: "button", class: "remove danger", onclick: () => remove(job.id) }, "Entfernen"));
  }
  return h("div", { class: "actions" }, ...actions);
}

// The owner by name and e-mail, the id in the tooltip; a system job has none,
// and an owner deleted since shows its id alone.
function ownerCell(job) {
  if (job.user) {
    return h(
      "span",
      { title: `Benutzer-ID: ${job.user.id}` },
      h("span", { class: "user-name" }, job.user.name),
      h("span", { class: "user-email" }, job.user.email),
    );
  }
  if (job.userId) return h("span", { title: "Benutzer nicht mehr vorhanden" }, h("code", {}, job.userId));
  return "System";
}

function jobRow(job) {
  return h(
    "tr",
    { dataset: { jobId: job.id }, class: highlighted === job.id ? "highlighted" : "" },
    h("td", { class: "job-id" }, h("code", {}, job.id)),
    h("td", {}, job.name),
    h("td", { class: "job-user" }, ownerCell(job)),
    h("td", {}, String(job.attemptsMade)),
    h("td", {}, timeElement(job.timestamp)),
    h("td", {}, timeElement(job.finishedOn)),
    h("td", { class: "reason" }, job.failedReason || ""),
    h("td", {}, jobActions(job)),
  );
}

async function loadJobs() {
  const { queue, state, page } = selection;
  const query = new URLSearchParams({ state, page: String(page), pageSize: String(PAGE_SIZE) });
  const result = await api(`${path(queue, "jobs")}?${query}`);
  if (queue !== selection.queue || state !== selection.state) return; // a newer selection won
  selection.total = result.total;
  const pages = Math.max(1, Math.ceil(result.total / result.pageSize));
  if (selection.page > pages) {
    selection.page = pages;
    return loadJobs();
  }
  jobsHeading.textContent = `Jobs in „${queue}“: ${STATE_LABELS[state]} (${result.total})`;
  jobsBody.replaceChildren(
    ...(result.jobs.length
      ? result.jobs.map(jobRow)
      : [h("tr", {}, h("td", { colspan: "8", class: "empty" }, "Keine Jobs in diesem Status."))]),
  );
  pageInfo.textContent = `Seite ${result.page} von ${pages}`;
  prevPage.disabled = result.page <= 1;
  nextPage.disabled = result.page >= pages;
  jobsSection.dataset.queue = queue;
  jobsSection.dataset.state = state;
  for (const button of document.querySelectorAll("#queue-rows td.count button")) {
    const cell = button.parentElement;
    const current = cell.parentElement.dataset.queue === queue && cell.dataset.state === state;
    button.setAttribute("aria-pressed", current ? "true" : "false");
  }
}

// ---- a job ---------------------------------------------------------------------

function section(title, ...content) {
  return h("section", {}, h("h3", {}, title), ...content);
}

async function showJob(jobId, queue = selection.queue) {
  try {
    const job = await api(path(queue, "jobs", jobId));
    detailBody.replaceChildren(
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "ID"), h("dd", {}, h("code", {}, job.id)),
        h("dt", {}, "Queue"), h("dd", {}, job.queue),
        h("dt", {}, "Name"), h("dd", {}, job.name),
        h("dt", {}, "Status"), h("dd", { class: "job-state" }, STATE_LABELS[job.state] || job.state),
        h("dt", {}, "Versuche"), h("dd", {}, `${job.attemptsMade} (gestartet: ${job.attemptsStarted})`),
        h("dt", {}, "Fortschritt"), h("dd", {}, pretty(job.progress)),
        h("dt", {}, "Erstellt"), h("dd", {}, timeElement(job.timestamp)),
        h("dt", {}, "Begonnen"), h("dd", {}, timeElement(job.processedOn)),
        h("dt", {}, "Beendet"), h("dd", {}, timeElement(job.finishedOn)),
        h("dt", {}, "Verzögerung"), h("dd", {}, `${job.delay} ms`),
      ),
      section("Fehlergrund", h("p", { class: "failed-reason" }, job.failedReason || "–")),
      section("Stacktrace", h("pre", { class: "stacktrace" }, job.stacktrace.length ? job.stacktrace.join("\n\n") : "–")),
      section("Daten", h("pre", { class: "data" }, pretty(job.data))),
      section("Optionen", h("pre", {}, pretty(job.options))),
      section("Rückgabewert", h("pre", { class: "returnvalue" }, pretty(job.returnvalue))),
      section(`Logs (${job.logs.count})`, h("pre", { class: "logs" }, job.logs.lines.join("\n") || "–")),
    );
    document.getElementById("job-dialog-title").textContent = `Job ${job.id}`;
    detailDialog.showModal();
  } catch (error) {
    report(error);
  }
}

async function act(question, label, request, done) {
  if (!(await confirmAction(question, label))) return;
  try {
    await request();
    announce(status, done, "success");
    await Promise.all([refreshCounts(), loadJobs()]);
  } catch (error) {
    report(error);
  }
}

function retry(jobId) {
  return act(
    `Job ${jobId} erneut versuchen?`,
    "Erneut versuchen",
    () => api(path(selection.queue, "jobs", jobId, "retry"), { method: "POST" }),
    `Job ${jobId} wird erneut versucht.`,
  );
}

function promote(jobId) {
  return act(
    `Job ${jobId} sofort ausführen (Verzögerung aufheben)?`,
    "Sofort ausführen",
    () => api(path(selection.queue, "jobs", jobId, "promote"), { method: "POST" }),
    `Job ${jobId} wird sofort ausgeführt.`,
  );
}

function cancel(jobId) {
  return act(
    `Job ${jobId} abbrechen? Er endet als fehlgeschlagen („Abgebrochen“) und wird nicht wiederholt.`,
    "Abbrechen",
    () => api(path(selection.queue, "jobs", jobId, "cancel"), { method: "POST" }),
    `Job ${jobId} wird abgebrochen.`,
  );
}

function remove(jobId) {
  return act(
    `Job ${jobId} endgültig entfernen?`,
    "Entfernen",
    () => api(path(selection.queue, "jobs", jobId), { method: "DELETE" }),
    `Job ${jobId} wurde entfernt.`,
  );
}

async function clean(event) {
  event.preventDefault();
  if (!selection.queue) return;
  const state = cleanForm.elements.state.value;
  const olderThanS = Number.parseInt(cleanForm.elements.age.value || "0", 10);
  if (!Number.isFinite(olderThanS) || olderThanS < 0) {
    announce(status, "Bitte ein Alter von 0 oder mehr Sekunden angeben.", "error");
    return;
  }
  const queue = selection.queue;
  const question = `Alle Jobs „${STATE_LABELS[state]}“ in „${queue}“ entfernen, die älter als ${olderThanS} s sind?`;
  if (!(await confirmAction(question, "Bereinigen"))) return;
  try {
    const result = await api(path(queue, "clean"), { method: "POST", body: { state, olderThanS } });
    announce(status, `${result.removed} Jobs aus „${queue}“ entfernt.`, "success");
    await Promise.all([refreshCounts(), loadJobs()]);
  } catch (error) {
    report(error);
  }
}

// ---- finding a job by its id, whatever its queue -------------------------------

async function searchJob(event) {
  event.preventDefault();
  const result = document.getElementById("job-search-result");
  const jobId = event.currentTarget.elements.jobId.value.trim();
  if (!jobId) {
    announce(result, "Bitte eine Job-ID eingeben.", "error");
    return;
  }
  announce(result, "Suche …");
  try {
    const found = await api(`/api/admin/jobs/${encodeURIComponent(jobId)}`);
    announce(result, `Gefunden in „${found.queue}“.`, "success");
    await showJob(found.id, found.queue);
  } catch (error) {
    if (error.status === 404) announce(result, `Job „${jobId}“ nicht gefunden.`, "error");
    else announce(result, error.message, "error");
  }
}

function main() {
  wireHeader();
  document.getElementById("job-search").addEventListener("submit", searchJob);
  prevPage.addEventListener("click", () => choose(selection.queue, selection.state, selection.page - 1));
  nextPage.addEventListener("click", () => choose(selection.queue, selection.state, selection.page + 1));
  cleanForm.addEventListener("submit", clean);
  document.getElementById("job-dialog-close").addEventListener("click", () => detailDialog.close());
  refreshCounts();
  schedules.refresh().catch(report);
  setInterval(() => {
    if (!document.hidden) refreshCounts();
  }, REFRESH_MS);
  setInterval(() => {
    if (!document.hidden) schedules.refresh().catch(report);
  }, SCHEDULES_REFRESH_MS);
}

main();
