"""What stands between the internet and Bolt in HTTP mode.

Bolt's Starlette adapter reads a body of any size and parses it before checking its
signature, so a request that is not Slack's can still cost memory, a 500 and a
traceback, and Bolt logs the whole body of a request that fails verification. Here a
request is read up to a size cap (413 beyond), verified on its raw bytes (401, and only
a short line in the log), and parsed (400 when it cannot be) before Bolt sees it; the
adapter's own conversions then hand it over.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from slackbot.slack.admission import admission_problem, read_body

log = logging.getLogger("slackbot.edge")

MAX_BODY_BYTES = 1 << 20
"""Far above anything Slack sends (a message holds at most 40,000 characters)."""


class _Throttled:
    """At most one log line per ``seconds`` for one kind of refusal, with a count."""

    def __init__(self, what: str, seconds: float = 10.0) -> None:
        self._what = what
        self._seconds = seconds
        self._last = -seconds
        self._since = 0

    def note(self) -> None:
        self._since += 1
        now = time.monotonic()
        if now - self._last >= self._seconds:
            log.warning("refused %d request(s) %s", self._since, self._what)
            self._last, self._since = now, 0


def _readable(body: bytes, content_type: str) -> dict[str, Any] | None:
    try:
        return read_body(body.decode("utf-8"), content_type)
    except (ValueError, RecursionError):
        return None


class Edge:
    def __init__(self, bolt: AsyncApp, signing_secret: str) -> None:
        self._bolt = bolt
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self._too_large = _Throttled(f"larger than {MAX_BODY_BYTES} bytes")
        self._unsigned = _Throttled("not signed by Slack (wrong or old signature)")
        self._unparseable = _Throttled("signed but unreadable")
        self._unhandled = _Throttled("of a kind the app does not handle")

    async def handle(self, request: Request) -> Response:
        """POST /slack/events: events, slash commands and interactivity."""
        body = await self._read(request)
        if body is None:
            self._too_large.note()
            return JSONResponse({"error": "request too large"}, status_code=413)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            self._unparseable.note()  # Slack sends UTF-8 only
            return JSONResponse({"error": "unreadable request"}, status_code=400)
        if not self._verified(body, request):
            self._unsigned.note()
            return JSONResponse({"error": "invalid request"}, status_code=401)
        readable = _readable(body, request.headers.get("content-type", ""))
        if readable is None:
            self._unparseable.note()
            return JSONResponse({"error": "unreadable request"}, status_code=400)
        problem = admission_problem(readable)
        if problem is not None:
            # Slack's own request, but not one to act on: answer 2xx, or Slack delivers
            # it again; say so once in the log.
            log.warning("request from Slack not relayed: %s", problem)
            return Response(status_code=200)
        response = await self._bolt.async_dispatch(to_async_bolt_request(request, body))
        if response.status == 404:
            # Signed by Slack, but nothing here listens for it: no redelivery wanted.
            self._unhandled.note()
            return Response(status_code=200)
        return to_starlette_response(response)

    @staticmethod
    async def _read(request: Request) -> bytes | None:
        """The body, or None when it is larger than the cap."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _verified(self, body: bytes, request: Request) -> bool:
        if self._verifier is None:
            return False
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if not timestamp.isdigit() or not signature:
            return False
        return self._verifier.is_valid(body, timestamp, signature)
