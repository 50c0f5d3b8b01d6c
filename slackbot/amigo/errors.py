"""Typed errors of the Amigo client.

Every error carries a short message that is safe to log or show: it never
contains the API key, its id or a bearer token. HTTP errors also carry the
status, the answer's body (truncated) and ``retry_after`` in seconds when
Amigo sent a ``Retry-After`` header.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

BODY_LIMIT = 2000
"""How many characters of a response body an error keeps."""


class AmigoError(Exception):
    """Base of every error the Amigo client raises."""

    status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.operation = operation
        self.body = body[:BODY_LIMIT]
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class AmigoTransportError(AmigoError):
    """The request did not get an HTTP answer (connect error, timeout, reset).

    ``request_sent`` is False only when the connection could not be opened, so
    Amigo certainly did not see the request; otherwise the outcome is unknown.
    """

    def __init__(self, message: str, *, operation: str | None = None, request_sent: bool) -> None:
        super().__init__(message, operation=operation)
        self.request_sent = request_sent


class AmigoStreamCut(AmigoError):
    """A stream ended before ``interaction-complete`` or ``error``.

    Either the connection was lost (or went idle for too long) or Amigo closed
    it early. The events that did arrive were yielded before this is raised.
    """


class AmigoProtocolError(AmigoError):
    """A 2xx answer whose body is not what the spec says it should be."""


class AmigoHTTPError(AmigoError):
    """Amigo answered with a non-2xx status."""

    status: int

    def __init__(
        self,
        status: int,
        message: str,
        *,
        operation: str | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, operation=operation, body=body, retry_after=retry_after)
        self.status = status

    @property
    def detail(self) -> str | None:
        """The ``detail`` string of a JSON error body, if there is one."""
        return _detail_of(self.body)


class AmigoBadRequest(AmigoHTTPError):
    """400 or 422: the request was refused as invalid."""


class AmigoAuthError(AmigoHTTPError):
    """401 or 403: bad credentials or missing permissions."""


class AmigoNotFound(AmigoHTTPError):
    """404: organization, user, service or conversation not found."""


class AmigoConflict(AmigoHTTPError):
    """409: already finished, a related operation in progress, or email taken."""

    @property
    def already_finished(self) -> bool:
        """Amigo says the conversation is finished (not merely busy)."""
        return "finish" in f"{self.message} {self.body or ''}".lower()


class AmigoRateLimited(AmigoHTTPError):
    """429: too many requests; see ``retry_after``."""


class AmigoUnavailable(AmigoHTTPError):
    """5xx (503 is maintenance) or 408; worth retrying later."""


def _class_for(status: int) -> type[AmigoHTTPError]:
    if status in (400, 422):
        return AmigoBadRequest
    if status in (401, 403):
        return AmigoAuthError
    if status == 404:
        return AmigoNotFound
    if status == 409:
        return AmigoConflict
    if status == 429:
        return AmigoRateLimited
    if status == 408 or 500 <= status <= 599:
        return AmigoUnavailable
    return AmigoHTTPError


def _detail_of(body: str) -> str | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return str(data["detail"])
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or HTTP date).

    Returns None when absent or unparsable; never negative.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            return None
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def error_for_response(
    status: int,
    headers: Mapping[str, str],
    body: str | bytes,
    *,
    operation: str | None = None,
) -> AmigoHTTPError:
    """Build the typed error for a non-2xx answer."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    retry_after = None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            retry_after = parse_retry_after(value)
            break
    what = operation or "request"
    message = f"Amigo answered {status} to {what}"
    detail = _detail_of(text)
    if detail:
        message += f": {detail[:200]}"
    if retry_after is not None:
        message += f" (retry after {retry_after:g}s)"
    return _class_for(status)(
        status, message, operation=operation, body=text, retry_after=retry_after
    )
