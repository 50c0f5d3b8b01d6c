"""Run an ASGI app on a random loopback port in a background thread.

The fakes live in their own thread and event loop so that they keep answering
while a test's loop is busy, and so that an app under test can be a separate
process (they are plain HTTP servers on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import uvicorn


class BackgroundServer:
    """Serve ``app`` on ``127.0.0.1:<random port>`` until :meth:`stop`."""

    def __init__(self, app: Any, *, name: str = "sandbox") -> None:
        self._app = app
        self._name = name
        # An explicit IPPROTO_TCP lets asyncio turn Nagle off on accepted
        # connections; without it each small streamed write waits for a delayed ACK.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BackgroundServer:
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        started = threading.Event()

        def run() -> None:
            self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self.loop)
            assert self._server is not None
            self.loop.call_soon(started.set)
            self.loop.run_until_complete(self._server.serve(sockets=[self._sock]))
            self.loop.close()

        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        started.wait(10)
        # Wait until uvicorn has finished its start-up and is accepting.
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError(f"{self._name} did not start")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._sock.close()
