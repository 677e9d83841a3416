"""Jobs enqueued inside a request reach Redis only after the request committed.

The app is served in-process here (uvicorn in the test's loop, real Redis and
PostgreSQL) with a few extra routes that misbehave on purpose: that is the only
way to make a request fail *after* it asked for a job.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select

from ailawyer.api.app import create_fastapi_app
from ailawyer.api.deps import PostCommitDep, SessionDep
from ailawyer.config import Settings
from ailawyer.db.engine import Database
from ailawyer.db.models import Akte
from ailawyer.errors import Conflict
from ailawyer.queues import test_queue
from ailawyer.queues.producer import QueueProducer
from tests.fixtures.services import REDIS_URL, free_port


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the app did not start"
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=10, trust_env=False
        ) as client:
            yield client
    finally:
        server.should_exit = True
        await task


def _app(pg_url: str, prefix: str, entered: asyncio.Event, release: asyncio.Event) -> FastAPI:
    app = create_fastapi_app(
        Settings(
            app_env="test",
            database_url=pg_url,
            redis_url=REDIS_URL,
            bullmq_prefix=prefix,
            auth_secret=SecretStr("s" * 64),
        )
    )
    data = {"userId": "u1", "message": "nach dem Commit"}

    @app.post("/test/enqueue-and-wait")
    async def enqueue_and_wait(after: PostCommitDep, session: SessionDep) -> dict[str, str]:
        session.add(Akte(aktenzeichen="AZ-1", title="Akte"))
        job = after.enqueue(test_queue, data)
        entered.set()
        await release.wait()
        return {"jobId": job.id}

    @app.post("/test/enqueue-then-fail")
    async def enqueue_then_fail(after: PostCommitDep) -> None:
        after.enqueue(test_queue, data)
        raise Conflict("schiefgegangen")

    @app.post("/test/enqueue-then-commit-fails")
    async def enqueue_then_commit_fails(after: PostCommitDep, session: SessionDep) -> None:
        # Two rows with one unique value: only the commit finds out.
        session.add(Akte(aktenzeichen="AZ-DUP", title="eins"))
        session.add(Akte(aktenzeichen="AZ-DUP", title="zwei"))
        after.enqueue(test_queue, data)

    @app.post("/test/bad-payload")
    async def bad_payload(after: PostCommitDep, session: SessionDep) -> None:
        session.add(Akte(aktenzeichen="AZ-BAD", title="Akte"))
        after.enqueue(test_queue, {"userId": "u1", "message": ""})

    return app


async def _jobs(producer: QueueProducer) -> int:
    counts = await producer.queue("test").getJobCounts("waiting", "active", "completed")
    return sum(int(v) for v in counts.values())


async def _akten(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Akte)) or 0)


async def test_job_is_sent_after_the_commit_not_before(
    pg_url: str, prefix: str, db: Database, producer: QueueProducer
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    async with serving(_app(pg_url, prefix, entered, release)) as client:
        request = asyncio.create_task(client.post("/test/enqueue-and-wait"))
        await entered.wait()
        # The endpoint has asked for the job but not returned: nothing sent yet.
        await asyncio.sleep(0.2)
        assert await _jobs(producer) == 0
        assert await _akten(db) == 0
        release.set()
        response = await request
        assert response.status_code == 200
        # Both are there once the response is: the commit, then the job.
        assert await _akten(db) == 1
        job = await producer.queue("test").getJob(response.json()["jobId"])
        assert job is not None


async def test_failed_request_sends_nothing(
    pg_url: str, prefix: str, db: Database, producer: QueueProducer
) -> None:
    async with serving(_app(pg_url, prefix, asyncio.Event(), asyncio.Event())) as client:
        failed = await client.post("/test/enqueue-then-fail")
        assert failed.status_code == 409
        assert failed.json() == {"error": "schiefgegangen"}

        commit_failed = await client.post("/test/enqueue-then-commit-fails")
        assert commit_failed.status_code == 500
        assert commit_failed.json() == {"error": "Interner Fehler"}

        bad = await client.post("/test/bad-payload")
        assert bad.status_code == 422
        assert bad.json()["queue"] == "test"
    assert await _jobs(producer) == 0
    assert await _akten(db) == 0
