// "Zeitpläne" on the queue dashboard: every job schedule with its rhythm in words,
// its next run in local time, its last run, and "Jetzt ausführen".

import { api } from "./lib/http.js";
import { confirmAction } from "./lib/confirm.js";
import { announce, h, timeElement } from "./lib/dom.js";

const HOME_TZ = "Europe/Berlin";
const WEEKDAYS = ["Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"];
const RUN_STATES = {
  active: "läuft",
  waiting: "wartet",
  delayed: "wird wiederholt",
  completed: "abgeschlossen",
  failed: "fehlgeschlagen",
  unknown: "nicht mehr vorhanden",
};
const NUMBER = new Intl.NumberFormat("de-DE", { maximumFractionDigits: 1 });

function plural(count, one, many) {
  return count === 1 ? one : `alle ${NUMBER.format(count)} ${many}`;
}

/** "alle 5 Minuten", "stündlich", "täglich" for an interval in milliseconds. */
export function everyText(ms) {
  const seconds = ms / 1000;
  if (seconds % 86400 === 0) return plural(seconds / 86400, "täglich", "Tage");
  if (seconds % 3600 === 0) return plural(seconds / 3600, "stündlich", "Stunden");
  if (seconds % 60 === 0) return plural(seconds / 60, "jede Minute", "Minuten");
  return plural(seconds, "jede Sekunde", "Sekunden");
}

const two = (value) => String(value).padStart(2, "0");
const isNumber = (field) => /^\d+$/.test(field);

/** Common cron shapes in words ("täglich 03:00"); anything else as it is. */
export function cronText(cron) {
  let fields = cron.trim().split(/\s+/);
  if (fields.length === 6 && fields[0] === "0") fields = fields.slice(1);
  if (fields.length !== 5) return `Cron „${cron}“`;
  const [minute, hour, day, month, weekday] = fields;
  const rest = day === "*" && month === "*";
  if (rest && weekday === "*" && hour === "*") {
    if (minute === "0") return "stündlich";
    if (isNumber(minute)) return `stündlich um :${two(minute)}`;
    const step = /^\*\/(\d+)$/.exec(minute);
    if (step) return everyText(Number(step[1]) * 60000);
    if (minute === "*") return "jede Minute";
  }
  if (rest && isNumber(minute)) {
    const step = /^\*\/(\d+)$/.exec(hour);
    if (step && weekday === "*") return `${everyText(Number(step[1]) * 3600000)} um :${two(minute)}`;
    if (isNumber(hour)) {
      const time = `${two(hour)}:${two(minute)}`;
      if (weekday === "*") return `täglich ${time}`;
      if (weekday === "1-5") return `werktags ${time}`;
      if (/^[0-7]$/.test(weekday)) return `jeden ${WEEKDAYS[Number(weekday) % 7]} ${time}`;
    }
  }
  return `Cron „${cron}“`;
}

export function rhythm(schedule) {
  if (schedule.every) return everyText(schedule.every);
  const words = cronText(schedule.cron || "");
  return schedule.tz && schedule.tz !== HOME_TZ ? `${words} (${schedule.tz})` : words;
}

export class Schedules {
  constructor({ body, status, onRun }) {
    this.body = body;
    this.status = status;
    this.onRun = onRun;
  }

  async refresh() {
    const schedules = await api("/api/admin/schedules");
    this.body.replaceChildren(
      ...(schedules.length
        ? schedules.map((schedule) => this.row(schedule))
        : [h("tr", {}, h("td", { colspan: "6", class: "empty" }, "Keine Zeitpläne."))]),
    );
  }

  row(schedule) {
    const run = schedule.lastRun;
    const button = h(
      "button",
      { type: "button", class: "run-now", "aria-label": `${schedule.id} jetzt ausführen` },
      "Jetzt ausführen",
    );
    button.addEventListener("click", () => this.runNow(schedule, button));
    return h(
      "tr",
      { dataset: { schedule: schedule.id } },
      h("th", { scope: "row" }, h("span", { class: "schedule-id" }, schedule.id)),
      h("td", {}, schedule.queue),
      h("td", { class: "rhythm" }, rhythm(schedule)),
      h("td", { class: "next-run" }, timeElement(schedule.nextRunAt)),
      h(
        "td",
        { class: "last-run" },
        run
          ? [RUN_STATES[run.state] || run.state, run.finishedAt ? " · " : "", run.finishedAt ? timeElement(run.finishedAt) : ""]
          : "–",
      ),
      h("td", {}, button),
    );
  }

  async runNow(schedule, button) {
    const question = `Zeitplan „${schedule.id}“ jetzt einmal ausführen (ein Job in „${schedule.queue}“)?`;
    if (!(await confirmAction(question, "Jetzt ausführen"))) return;
    button.disabled = true;
    try {
      const result = await api(`/api/admin/schedules/${encodeURIComponent(schedule.id)}/run`, {
        method: "POST",
      });
      announce(this.status, `Job ${result.jobId} in „${result.queue}“ eingereiht.`, "success");
      await this.onRun(result);
      await this.refresh();
    } catch (error) {
      announce(this.status, error.message, "error");
    } finally {
      button.disabled = false;
    }
  }
}
