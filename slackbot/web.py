"""HTTP mode: a Starlette app with Slack's endpoint and a health check.

Events, slash commands and interactivity all POST to ``/slack/events``, where the
Slack layer verifies the signature and timestamp of every request before anything runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from slackbot.runtime import Runtime


def create_web_app(runtime: Runtime) -> Starlette:
    async def healthz(_: Request) -> Response:
        problem = await runtime.store.writable()
        if problem is not None:
            return JSONResponse({"ok": False, "database": problem}, status_code=503)
        return JSONResponse({"ok": True})

    async def metrics(_: Request) -> Response:
        body, content_type = runtime.metrics.render()
        return Response(body, media_type=content_type)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.shutdown()

    return Starlette(
        routes=[
            Route("/slack/events", runtime.slack.handle, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
