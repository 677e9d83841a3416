// What Node BullMQ (and so Bull Board) sees of one of our queues:
//   node inspect.mjs <queue>
// prints {"completed": getMetrics('completed', 0, 59), "failed": ..., "workers": getWorkers()}
// (the last hour of finished minutes; the open one is meta.count - meta.prevCount).
import { Queue } from 'bullmq';
import { connection, prefix } from './connection.mjs';

const [name] = process.argv.slice(2);
if (!name) {
  console.error('usage: node inspect.mjs <queue>');
  process.exit(2);
}
const queue = new Queue(name, { connection: connection(), prefix });
const [completed, failed, workers] = await Promise.all([
  queue.getMetrics('completed', 0, 59),
  queue.getMetrics('failed', 0, 59),
  queue.getWorkers(),
]);
console.log(JSON.stringify({ completed, failed, workers }));
await queue.close();
