// Throughput from BullMQ's metrics (GET /api/admin/queues/{name}/metrics): a
// sparkline of the last hour per queue, and a larger chart of the chosen queue
// with a range switch. Plain SVG, no library; every chart is an image with its
// totals as its accessible name.

import { api } from "./lib/http.js";
import { h } from "./lib/dom.js";

const SVG = "http://www.w3.org/2000/svg";
const SPARK_REFRESH_MS = 10000;

export const RANGES = {
  "1h": { label: "1 h", text: "letzte Stunde" },
  "24h": { label: "24 h", text: "letzte 24 Stunden" },
  "7d": { label: "7 Tage", text: "letzte 7 Tage" },
};

const metricsPath = (queue, range) =>
  `/api/admin/queues/${encodeURIComponent(queue)}/metrics?range=${encodeURIComponent(range)}`;

const sum = (values) => values.reduce((total, value) => total + value, 0);

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  for (const child of children) node.append(child);
  return node;
}

/** "30 abgeschlossen, 5 fehlgeschlagen" */
export function totalsText(metrics) {
  const done = sum(metrics.completed);
  const failed = sum(metrics.failed);
  return `${done.toLocaleString("de-DE")} abgeschlossen, ${failed.toLocaleString("de-DE")} fehlgeschlagen`;
}

function points(values, max, width, height, top) {
  const step = values.length > 1 ? width / (values.length - 1) : width;
  return values
    .map((value, index) => {
      const x = (index * step).toFixed(1);
      const y = (top + height - (max ? (value / max) * height : 0)).toFixed(1);
      return `${x},${y}`;
    })
    .join(" ");
}

/** A chart of completed and failed jobs per bucket; `label` names it for screen readers. */
export function chart(metrics, { width, height, label, axes = false }) {
  const max = Math.max(1, ...metrics.completed, ...metrics.failed);
  const top = axes ? 14 : 2;
  const bottom = axes ? 16 : 2;
  const plot = height - top - bottom;
  const image = svg(
    "svg",
    {
      class: axes ? "throughput-chart" : "sparkline",
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "img",
      "aria-label": label,
      // The sparkline may stretch; the chart keeps its proportions (its text).
      preserveAspectRatio: axes ? "xMidYMid meet" : "none",
    },
    svg("title", {}, label),
    svg("line", { class: "baseline", x1: 0, x2: width, y1: top + plot, y2: top + plot }),
    svg("polyline", { class: "completed", points: points(metrics.completed, max, width, plot, top) }),
    svg("polyline", { class: "failed", points: points(metrics.failed, max, width, plot, top) }),
  );
  if (axes) {
    const start = new Date(metrics.start);
    const end = new Date(start.getTime() + metrics.completed.length * metrics.step * 1000);
    const format = metrics.step >= 3600 ? { dateStyle: "short", timeStyle: "short" } : { timeStyle: "short" };
    const time = new Intl.DateTimeFormat("de-DE", format);
    image.append(
      svg("text", { class: "axis", x: 0, y: 10 }, `max. ${max.toLocaleString("de-DE")} je Intervall`),
      svg("text", { class: "axis", x: 0, y: height - 3 }, time.format(start)),
      svg("text", { class: "axis", x: width, y: height - 3, "text-anchor": "end" }, time.format(end)),
    );
  }
  return image;
}

/** The last hour of each queue beside its counts; asks at most every 10 s. */
export class Sparklines {
  constructor({ cellFor }) {
    this.cellFor = cellFor; // queue name -> its table cell, or null
    this.last = 0;
    this.busy = false;
  }

  async refresh(queueNames, force = false) {
    if (this.busy || (!force && Date.now() - this.last < SPARK_REFRESH_MS)) return;
    this.busy = true;
    try {
      const results = await Promise.all(queueNames.map((name) => api(metricsPath(name, "1h"))));
      results.forEach((metrics, index) => {
        const name = queueNames[index];
        const cell = this.cellFor(name);
        if (!cell) return;
        const label = `${name}, letzte Stunde: ${totalsText(metrics)}`;
        cell.dataset.completed = String(sum(metrics.completed));
        cell.dataset.failed = String(sum(metrics.failed));
        cell.replaceChildren(chart(metrics, { width: 100, height: 24, label }));
      });
      this.last = Date.now();
    } finally {
      this.busy = false;
    }
  }
}

/** The chosen queue's throughput, larger, with the range switch (1 h / 24 h / 7 Tage). */
export class ThroughputChart {
  constructor({ section, heading, switcher, figure, summary }) {
    this.section = section;
    this.heading = heading;
    this.figure = figure;
    this.summary = summary;
    this.queue = null;
    this.range = "1h";
    this.last = 0;
    this.buttons = Object.entries(RANGES).map(([range, { label }]) =>
      h(
        "button",
        {
          type: "button",
          dataset: { range },
          "aria-pressed": range === this.range ? "true" : "false",
          onclick: () => this.choose(range),
        },
        label,
      ),
    );
    switcher.replaceChildren(...this.buttons);
    this.shown = null; // { queue, range, metrics } last drawn
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => this.draw(), 150);
    });
  }

  choose(range) {
    this.range = range;
    for (const button of this.buttons) {
      button.setAttribute("aria-pressed", button.dataset.range === range ? "true" : "false");
    }
    return this.refresh(true);
  }

  show(queue) {
    if (queue === this.queue) return Promise.resolve();
    this.queue = queue;
    return this.refresh(true);
  }

  async refresh(force = false) {
    if (!this.queue || (!force && Date.now() - this.last < SPARK_REFRESH_MS)) return;
    const { queue, range } = this;
    const metrics = await api(metricsPath(queue, range));
    if (queue !== this.queue || range !== this.range) return; // a newer choice won
    this.shown = { queue, range, metrics };
    this.draw();
    this.last = Date.now();
  }

  /** Draw what was fetched last, at the width the figure has now. */
  draw() {
    if (!this.shown) return;
    const { queue, range, metrics } = this.shown;
    const label = `${queue}, ${RANGES[range].text}: ${totalsText(metrics)}`;
    this.heading.textContent = `Durchsatz von „${queue}“`;
    this.section.dataset.queue = queue;
    this.section.dataset.range = range;
    this.section.dataset.completed = String(sum(metrics.completed));
    this.section.dataset.failed = String(sum(metrics.failed));
    // Drawn at the width it gets, so that its labels keep their size on a phone.
    const width = Math.max(240, Math.min(640, (this.figure.clientWidth || 656) - 16));
    this.figure.replaceChildren(chart(metrics, { width, height: 160, label, axes: true }));
    const minutes = metrics.step / 60;
    const bucket = minutes >= 60 ? `${minutes / 60} h` : `${minutes} min`;
    const text = RANGES[range].text;
    this.summary.textContent = `${text[0].toUpperCase()}${text.slice(1)}: ${totalsText(metrics)} (je Intervall ${bucket}).`;
  }
}
