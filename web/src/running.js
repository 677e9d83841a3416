// "Laufende Vorgänge": the user's jobs that have not finished, with their progress.
//
// The list comes from GET /api/jobs/active on load and after every (re)connect
// (events missed while away are not replayed), and follows `job:progress` live.
// A job leaves it when its notification arrives, or when it is cancelled here.
// Screen readers hear when a job starts and when it ends (a live region).

import { ApiError, api } from "./lib/http.js";
import { announce, h } from "./lib/dom.js";

const STATE_TEXT = {
  active: "läuft",
  waiting: "wartet",
  prioritized: "wartet",
  delayed: "geplant",
};

export class RunningJobs {
  constructor({ section, list, live, userId }) {
    this.section = section;
    this.list = list;
    this.live = live;
    this.userId = userId;
    this.jobs = new Map(); // jobId -> { jobId, queue, label, state, progress }
  }

  /** Replace what is shown by the server's view (after a (re)connect). */
  async refresh() {
    const result = await api("/api/jobs/active");
    const fresh = new Map();
    for (const job of result.jobs) {
      // An ADMIN's answer holds everyone's jobs and the system's (a schedule's
      // next run, say); this page shows one's own.
      if (job.userId !== this.userId) continue;
      fresh.set(job.jobId, job);
    }
    for (const jobId of [...this.jobs.keys()]) {
      if (!fresh.has(jobId)) this.remove(jobId, false);
    }
    for (const job of fresh.values()) this.upsert(job);
  }

  /** A job this page just started. */
  started(job) {
    this.upsert({ state: "waiting", progress: null, ...job });
  }

  /** A `job:progress` event. */
  progress(event) {
    if (!event || typeof event.jobId !== "string") return;
    const known = this.jobs.get(event.jobId);
    this.upsert({ ...(known || {}), ...event, state: "active" });
  }

  /** A notification: its job, if shown, has ended. */
  ended(notification) {
    const jobId = notification && notification.data && notification.data.jobId;
    if (typeof jobId === "string") this.remove(jobId, true);
  }

  upsert(job) {
    const isNew = !this.jobs.has(job.jobId);
    const merged = { ...(this.jobs.get(job.jobId) || {}), ...job };
    this.jobs.set(job.jobId, merged);
    const node = this.render(merged);
    const old = this.node(job.jobId);
    if (old) {
      old.replaceWith(node);
    } else {
      this.list.append(node);
    }
    this.section.hidden = false;
    if (isNew) announce(this.live, `Vorgang „${merged.label || merged.queue}“ gestartet.`);
  }

  remove(jobId, announceEnd) {
    const job = this.jobs.get(jobId);
    if (!job) return;
    this.jobs.delete(jobId);
    this.node(jobId)?.remove();
    this.section.hidden = this.jobs.size === 0;
    if (announceEnd) announce(this.live, `Vorgang „${job.label || job.queue}“ beendet.`);
  }

  node(jobId) {
    return this.list.querySelector(`li[data-job-id="${CSS.escape(jobId)}"]`);
  }

  render(job) {
    const name = job.label || job.queue;
    const labelId = `job-${job.jobId}-label`;
    const percent = typeof job.progress === "number" ? job.progress : null;
    const bar = h("progress", {
      max: "100",
      "aria-labelledby": labelId,
      "aria-valuetext": percent === null ? "Fortschritt unbekannt" : `${percent} Prozent`,
    });
    if (percent !== null) bar.value = percent;
    const outcome = h("span", { class: "outcome", role: "status" });
    const cancel = h(
      "button",
      { type: "button", class: "danger cancel", "aria-label": `„${name}“ abbrechen` },
      "Abbrechen",
    );
    cancel.addEventListener("click", () => this.cancel(job, cancel, outcome));
    return h(
      "li",
      { class: "running-job", dataset: { jobId: job.jobId, state: job.state || "" } },
      h("span", { id: labelId, class: "running-label" }, name),
      h("span", { class: "running-state" }, STATE_TEXT[job.state] || "läuft"),
      bar,
      h("span", { class: "running-percent", "aria-hidden": "true" }, percent === null ? "" : `${percent} %`),
      cancel,
      outcome,
    );
  }

  async cancel(job, button, outcome) {
    button.disabled = true;
    outcome.textContent = "Wird abgebrochen …";
    outcome.dataset.kind = "info";
    try {
      await api(`/api/jobs/${encodeURIComponent(job.jobId)}/cancel`, { method: "POST" });
      this.remove(job.jobId, false);
      announce(this.live, `Vorgang „${job.label || job.queue}“ wird abgebrochen.`);
    } catch (error) {
      outcome.textContent = error.message;
      outcome.dataset.kind = "error";
      const passing = !(error instanceof ApiError) || error.status === 0 || error.status >= 500;
      button.disabled = !passing;
      if (error instanceof ApiError && error.status === 400) {
        // Finished meanwhile: its notification is on its way.
        this.remove(job.jobId, false);
      }
    }
  }
}
