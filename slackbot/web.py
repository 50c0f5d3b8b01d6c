"""The app's HTTP face: Slack's endpoint, and what operators watch.

In HTTP mode events, slash commands and interactivity all POST to ``/slack/events``,
where the Slack layer verifies the signature and timestamp of every request before
anything runs; with OAuth, workspaces install the app through ``/slack/install``.
``/healthz`` and ``/metrics`` are served in both modes: in Socket Mode
they are all the port serves.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from slackbot.runtime import Runtime


def operator_routes(runtime: Runtime) -> list[Route]:
    """``/healthz`` (503 while the database cannot be written) and ``/metrics``."""

    async def healthz(_: Request) -> Response:
        problem = await runtime.store.writable()
        if problem is not None:
            return JSONResponse({"ok": False, "database": problem}, status_code=503)
        return JSONResponse({"ok": True})

    async def metrics(_: Request) -> Response:
        body, content_type = runtime.metrics.render()
        return Response(body, media_type=content_type)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def create_operator_app(runtime: Runtime) -> Starlette:
    """Socket Mode's port: health and metrics only (the runtime is run elsewhere)."""
    return Starlette(routes=operator_routes(runtime))


class _SignalFreeServer(uvicorn.Server):
    """uvicorn takes SIGTERM and SIGINT for itself while it serves; in Socket Mode the
    app owns them (its shutdown lets running replies finish), so this one leaves them."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def operator_server(runtime: Runtime, sock: socket.socket) -> AsyncIterator[None]:
    """Serve ``/healthz`` and ``/metrics`` on ``sock`` while the block runs."""
    config = uvicorn.Config(create_operator_app(runtime), log_config=None, access_log=False)
    server = _SignalFreeServer(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        await serving
        sock.close()


def create_web_app(runtime: Runtime) -> Starlette:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.shutdown()

    return Starlette(
        routes=[
            Route("/slack/events", runtime.slack.handle, methods=["POST"]),
            *install_routes(runtime),
            *operator_routes(runtime),
        ],
        lifespan=lifespan,
    )


def install_routes(runtime: Runtime) -> list[Route]:
    """With OAuth: ``/slack/install`` sends an installer to Slack, which sends them back
    to ``/slack/oauth_redirect`` (Bolt's flow checks the state and saves the install)."""
    installations = runtime.installations
    if installations is None:
        return []
    return [
        Route("/slack/install", installations.install, methods=["GET"]),
        Route("/slack/oauth_redirect", installations.redirect, methods=["GET"]),
    ]
