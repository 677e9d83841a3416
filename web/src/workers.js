// The live workers (GET /api/admin/workers): host, pid, queues, jobs in flight,
// version and how long ago their last heartbeat was.

import { api } from "./lib/http.js";
import { h, timeElement } from "./lib/dom.js";

/** "vor 3 s", "vor 2 min" */
export function ago(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `vor ${s} s`;
  if (s < 3600) return `vor ${Math.floor(s / 60)} min`;
  return `vor ${Math.floor(s / 3600)} h`;
}

function queueList(worker) {
  return h(
    "ul",
    { class: "worker-queues" },
    ...worker.queues.map((queue) =>
      h(
        "li",
        {},
        h("span", { class: "queue-name" }, queue.name),
        queue.concurrency ? ` ×${queue.concurrency}` : "",
      ),
    ),
  );
}

export class Workers {
  constructor({ body, count }) {
    this.body = body;
    this.count = count;
  }

  async refresh() {
    const result = await api("/api/admin/workers");
    const now = new Date(result.now).getTime();
    this.count.textContent = `(${result.workers.length})`;
    this.body.replaceChildren(
      ...(result.workers.length
        ? result.workers.map((worker) => {
            const beat = worker.lastBeat ? ago((now - new Date(worker.lastBeat).getTime()) / 1000) : "–";
            return h(
              "tr",
              { dataset: { workerId: worker.id, pid: String(worker.pid ?? "") } },
              h("th", { scope: "row" }, worker.host || "–"),
              h("td", { class: "pid" }, String(worker.pid ?? "–")),
              h("td", {}, queueList(worker)),
              h("td", { class: "in-flight" }, String(worker.inFlight ?? "–")),
              h("td", {}, worker.version || "–"),
              h("td", {}, timeElement(worker.startedAt)),
              h("td", { class: "last-beat" }, beat),
            );
          })
        : [h("tr", {}, h("td", { colspan: "7", class: "empty" }, "Kein Worker aktiv."))]),
    );
  }
}
