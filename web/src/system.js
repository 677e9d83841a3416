// Admin system page: every dependency of /api/health with its state and latency
// (every 5 s), its last 24 hours as a strip of cells (every 30 s), and the
// versions of app, workers, Redis and the database.

import { ApiError, api } from "./lib/http.js";
import { announce, h, timeElement } from "./lib/dom.js";
import { wireHeader } from "./lib/header.js";

const HEALTH_MS = 5000;
const HISTORY_MS = 30000;
// Ten-minute cells (144 a day); on a phone half-hour cells (48), which stay
// wide enough to see and to tap.
const BUCKET_S = 600;
const PHONE_BUCKET_S = 1800;
const narrow = window.matchMedia("(max-width: 40rem)");

const SERVICE_LABELS = {
  app: "App",
  postgres: "Datenbank",
  redis: "Redis",
  worker: "Worker",
  minio: "MinIO",
  meilisearch: "Meilisearch",
  onlyoffice: "OnlyOffice",
};
const STATUS_LABELS = {
  healthy: "gesund",
  unhealthy: "gestört",
  not_configured: "nicht konfiguriert",
};

const list = document.getElementById("health-list");
const overall = document.getElementById("overall");
const status = document.getElementById("status");
const refreshed = document.getElementById("refreshed");
const versions = document.getElementById("versions");
const workerList = document.getElementById("worker-list");

const rows = new Map(); // service -> { item, state, latency, strip }
let lastHistory = null;

const TIME = new Intl.DateTimeFormat("de-DE", { hour: "2-digit", minute: "2-digit" });
const DAY_TIME = new Intl.DateTimeFormat("de-DE", { dateStyle: "short", timeStyle: "short" });

function report(error) {
  announce(status, error instanceof ApiError ? error.message : String(error), "error");
}

function row(name) {
  let found = rows.get(name);
  if (found) return found;
  const state = h("span", { class: "dep-state" }, "–");
  const latency = h("span", { class: "dep-latency" }, "");
  const strip = h("div", { class: "strip", role: "img", "aria-label": "Noch keine Messungen" });
  const item = h(
    "li",
    { class: "dep", dataset: { service: name } },
    h("div", { class: "dep-head" }, h("strong", { class: "dep-name" }, SERVICE_LABELS[name] || name), state, latency),
    strip,
    h("div", { class: "strip-scale", "aria-hidden": "true" }, h("span", {}, "vor 24 Std."), h("span", {}, "jetzt")),
  );
  list.append(item);
  found = { item, state, latency, strip };
  rows.set(name, found);
  if (lastHistory) drawStrip(name, found);
  return found;
}

async function refreshHealth() {
  let body;
  try {
    body = await api("/api/health");
  } catch (error) {
    // 503 is the answer "degraded": it still lists every service.
    if (!(error instanceof ApiError) || !error.body || !error.body.services) {
      report(error);
      return;
    }
    body = error.body;
  }
  for (const [name, service] of Object.entries(body.services)) {
    const { item, state, latency } = row(name);
    item.dataset.status = service.status;
    state.textContent = STATUS_LABELS[service.status] || service.status;
    latency.textContent = service.status === "not_configured" ? "" : `${service.latency} ms`;
  }
  overall.textContent = body.status === "healthy" ? "Alle Dienste sind gesund." : "Mindestens ein Dienst ist gestört.";
  overall.dataset.kind = body.status === "healthy" ? "success" : "error";
  refreshed.textContent = `Stand: ${new Date().toLocaleTimeString("de-DE")}`;
  if (status.dataset.kind === "error") announce(status, "");
}

function bucketKind(bucket) {
  if (!bucket || bucket.healthy + bucket.unhealthy + bucket.notConfigured === 0) return "gap";
  if (bucket.unhealthy > 0) return "unhealthy";
  if (bucket.healthy > 0) return "healthy";
  return "none";
}

function bucketTitle(bucket, start, end) {
  const span = `${DAY_TIME.format(start)}–${TIME.format(end)}`;
  const kind = bucketKind(bucket);
  if (kind === "gap") return `${span}: keine Messung`;
  const parts = [];
  if (bucket.healthy) parts.push(`${bucket.healthy}× gesund`);
  if (bucket.unhealthy) parts.push(`${bucket.unhealthy}× gestört`);
  if (bucket.notConfigured) parts.push(`${bucket.notConfigured}× nicht konfiguriert`);
  if (kind !== "none") parts.push(`höchstens ${bucket.maxLatency} ms`);
  return `${span}: ${parts.join(", ")}`;
}

function drawStrip(name, { strip }) {
  const { fromMs, bucketS, toMs, services } = lastHistory;
  const buckets = services[name] || [];
  const bucketMs = bucketS * 1000;
  const count = Math.round((toMs - fromMs) / bucketMs);
  const cells = [];
  let bad = 0;
  let measured = 0;
  for (let i = 0; i < count; i += 1) {
    const start = fromMs + i * bucketMs;
    const bucket = buckets[i];
    const kind = bucketKind(bucket);
    if (kind === "unhealthy") bad += 1;
    if (kind !== "gap") measured += 1;
    cells.push(h("span", { class: `cell ${kind}`, title: bucketTitle(bucket, new Date(start), new Date(start + bucketMs)) }));
  }
  strip.replaceChildren(...cells);
  strip.setAttribute(
    "aria-label",
    measured === 0
      ? "Keine Messungen in den letzten 24 Stunden"
      : `${measured} von ${count} Zeitabschnitten gemessen, davon ${bad} mit Störung`,
  );
}

async function refreshHistory() {
  try {
    const bucketS = narrow.matches ? PHONE_BUCKET_S : BUCKET_S;
    lastHistory = await api(`/api/admin/system/health-history?bucketS=${bucketS}`);
  } catch (error) {
    report(error);
    return;
  }
  for (const name of Object.keys(lastHistory.services)) row(name);
  for (const [name, found] of rows) drawStrip(name, found);
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value ?? "unbekannt")];
}

async function refreshVersions() {
  let system;
  try {
    system = await api("/api/admin/system");
  } catch (error) {
    report(error);
    return;
  }
  versions.replaceChildren(
    ...fact("App", system.appVersion),
    ...fact(system.redis.name, system.redis.version),
    ...fact(system.database.name, system.database.version),
  );
  versions.dataset.loaded = "true";
  if (system.workers === null) {
    workerList.replaceChildren(h("li", { class: "empty" }, "Unbekannt: Redis antwortet nicht."));
  } else if (system.workers.length === 0) {
    workerList.replaceChildren(h("li", { class: "empty" }, "Kein Worker meldet sich."));
  } else {
    workerList.replaceChildren(
      ...system.workers.map((worker) =>
        h(
          "li",
          { class: "worker", dataset: { worker: worker.id } },
          h(
            "dl",
            { class: "facts" },
            h("dt", {}, "Worker"), h("dd", { class: "worker-id" }, worker.id),
            h("dt", {}, "Version"), h("dd", { class: "worker-version" }, worker.version ?? "unbekannt"),
            h("dt", {}, "Queues"), h("dd", {}, worker.queues.join(", ") || "–"),
            h("dt", {}, "Lebenszeichen"), h("dd", {}, timeElement(worker.seenAt === null ? null : worker.seenAt * 1000)),
          ),
        ),
      ),
    );
  }
}

function every(ms, refresh) {
  refresh();
  setInterval(() => {
    if (!document.hidden) refresh();
  }, ms);
}

function main() {
  wireHeader();
  every(HEALTH_MS, refreshHealth);
  every(HISTORY_MS, () => Promise.all([refreshHistory(), refreshVersions()]));
  narrow.addEventListener("change", refreshHistory);
}

main();
