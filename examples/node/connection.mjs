// The Redis connection and BullMQ prefix of an ailawyer deployment, from the same
// variables our processes read: REDIS_URL (redis://[user:password@]host:port/db)
// and BULLMQ_PREFIX (default "bull").
export function connection() {
  const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379/0');
  const db = Number(url.pathname.replace('/', '') || 0);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    db,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    // A worker's blocking connection must never give up (BullMQ requires it).
    maxRetriesPerRequest: null,
  };
}

export const prefix = process.env.BULLMQ_PREFIX || 'bull';

// ailawyer's retry policy (src/ailawyer/queues/options.py): 3 retries, after
// 10 s, 60 s and 5 min. Jobs of ours carry `backoff: {type: "custom"}`; a Node
// worker without this strategy cannot compute the delay of a failed attempt,
// and the job stays `active` until stall recovery picks it up.
const BACKOFF_DELAYS_MS = [10_000, 60_000, 300_000];

export function backoffStrategy(attemptsMade) {
  const index = Math.min(Math.max(attemptsMade, 1), BACKOFF_DELAYS_MS.length) - 1;
  return BACKOFF_DELAYS_MS[index];
}

// The options our producer gives every job (`DEFAULT_JOB_OPTIONS`).
export const DEFAULT_JOB_OPTIONS = {
  attempts: 4,
  backoff: { type: 'custom' },
  removeOnComplete: { age: 86_400 },
  removeOnFail: { age: 7 * 86_400 },
};
