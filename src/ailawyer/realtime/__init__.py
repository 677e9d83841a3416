"""Real time: rooms, the Socket.IO server (app), the write-only emitter (worker)."""
