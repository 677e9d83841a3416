// A bare Node BullMQ worker: the `bench` queue's no-op job, as Node runs it.
//   node worker.mjs --redis-url URL --prefix P [--concurrency 50]
// Copied by bench/node.py next to the bullmq it installs (bench/results/node),
// so the import below resolves there. Same queue, job options and no-op as
// bench/raw_worker.py; it prints "ready" once BullMQ's fetch loop runs and
// stops on SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { Worker } from 'bullmq';

const { values } = parseArgs({
  options: {
    'redis-url': { type: 'string' },
    prefix: { type: 'string' },
    concurrency: { type: 'string', default: '50' },
  },
});
if (!values['redis-url'] || !values.prefix) {
  console.error('usage: node worker.mjs --redis-url URL --prefix P [--concurrency N]');
  process.exit(2);
}
const url = new URL(values['redis-url']);
const connection = {
  host: url.hostname,
  port: Number(url.port || 6379),
  db: Number(url.pathname.replace('/', '') || 0),
  // A worker's blocking connection must never give up (BullMQ requires it).
  maxRetriesPerRequest: null,
};

// Our jobs carry `backoff: {type: "custom"}` (docs/interop.md): without the
// strategy a failed attempt could not be retried. The no-op never fails; the
// strategy is there so that the worker takes our job options as a real one must.
const DELAYS_MS = [10_000, 60_000, 300_000];
const backoffStrategy = (attemptsMade) =>
  DELAYS_MS[Math.min(Math.max(attemptsMade, 1), DELAYS_MS.length) - 1];

const worker = new Worker('bench', async () => ({ startedAt: Date.now() / 1000 }), {
  connection,
  prefix: values.prefix,
  concurrency: Number(values.concurrency),
  settings: { backoffStrategy },
  autorun: false,
});
worker.on('error', (error) => console.error(`worker error: ${error.message}`));
worker.on('ready', () => console.log('ready'));

const stop = async () => {
  await worker.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
worker.run();
