"""The worker process: BullMQ workers for every queue, notifications, graceful stop.

`runner` owns the process's state (connections, workers, background tasks);
`execution` wraps each processor; `processors/` holds the processors themselves.
"""
