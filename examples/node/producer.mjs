// A Node producer: adds one job to one of our queues, as our own producer would.
//   node producer.mjs <queue> '<payload JSON, camelCase>'
// prints the job's id. The payload must be valid for the queue (see
// src/ailawyer/queues/payloads.py): a user's job carries the `userId` that owns it.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { connection, prefix, DEFAULT_JOB_OPTIONS } from './connection.mjs';

const [name, payload] = process.argv.slice(2);
if (!name || !payload) {
  console.error("usage: node producer.mjs <queue> '<payload JSON>'");
  process.exit(2);
}
const queue = new Queue(name, { connection: connection(), prefix });
// Random ids, like ours: they appear in URLs and must not be guessable.
const jobId = randomUUID().replaceAll('-', '');
// The job's name is the queue's name, as our producer names it.
const job = await queue.add(name, JSON.parse(payload), { ...DEFAULT_JOB_OPTIONS, jobId });
console.log(JSON.stringify({ jobId: job.id }));
await queue.close();
