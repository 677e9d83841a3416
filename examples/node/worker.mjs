// A Node consumer of one of our queues, with our custom backoff registered.
//   node worker.mjs <queue> [failures] [stopAfter]
// Its processor fails the first [failures] attempts of every job (default 1), then
// succeeds; each event is printed as one JSON line. It stops on SIGTERM/SIGINT,
// or once [stopAfter] jobs have completed.
import { Worker } from 'bullmq';
import { connection, prefix, backoffStrategy } from './connection.mjs';

const [name, failuresArg, stopAfterArg] = process.argv.slice(2);
if (!name) {
  console.error('usage: node worker.mjs <queue> [failures] [stopAfter]');
  process.exit(2);
}
const failures = Number(failuresArg ?? 1);
const stopAfter = stopAfterArg === undefined ? Infinity : Number(stopAfterArg);
let completed = 0;
const print = (event) => console.log(JSON.stringify(event));

const worker = new Worker(
  name,
  async (job) => {
    print({ event: 'started', jobId: job.id, attempt: job.attemptsMade + 1 });
    if (job.attemptsMade < failures) {
      throw new Error(`planned failure ${job.attemptsMade + 1}`);
    }
    return { success: true, by: 'node' };
  },
  {
    connection: connection(),
    prefix,
    name: `node-example-${process.pid}`,
    // Without it, a failed attempt of one of our jobs cannot be retried.
    settings: { backoffStrategy },
    // One week of per-minute counts, as our workers keep.
    metrics: { maxDataPoints: 7 * 24 * 60 },
  },
);
worker.on('ready', () => print({ event: 'ready' }));
worker.on('failed', (job, error) =>
  print({ event: 'failed', jobId: job?.id, attemptsMade: job?.attemptsMade, delay: job?.delay, error: error.message }),
);
worker.on('completed', async (job) => {
  print({ event: 'completed', jobId: job.id, attemptsMade: job.attemptsMade });
  completed += 1;
  if (completed >= stopAfter) {
    await worker.close();
    process.exit(0);
  }
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    await worker.close();
    process.exit(0);
  });
}
