"""Files people share with a message: which one becomes a voice turn, and its bytes.

A ``file_share`` message carries Slack's file objects (``id``, ``name``, ``mimetype``,
``size``, ``url_private_download``, ``subtype: slack_audio`` for a recorded clip).
:func:`attachment_of` keeps a reference to the one the relay acts on: the first
recording, or, for a message with no text, the first file (so that its author hears
why it was not sent). The bytes are fetched only when the turn runs, by
:class:`SlackFiles`, with the bot token in an ``Authorization`` header, and only from
Slack's own hosts: the token never goes anywhere else, and neither it nor a file URL
is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from slackbot.relay.voice import FetchFailed, is_audio
from slackbot.store.records import Attachment

log = logging.getLogger("slackbot.files")

SLACK_FILE_HOSTS = ("slack.com", "slack-edge.com", "slack-gov.com")
"""Hosts (and their subdomains) that serve Slack's files; the bot token goes nowhere else."""

FETCH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class _File(BaseModel):
    """The fields of Slack's file object the app reads."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(max_length=64)
    name: str = Field(default="", max_length=500)
    title: str = Field(default="", max_length=500)
    mimetype: str = Field(default="", max_length=200)
    size: int = Field(default=0, ge=0)
    subtype: str = Field(default="", max_length=64)
    url_private_download: str = Field(default="", max_length=2000)
    url_private: str = Field(default="", max_length=2000)

    def attachment(self) -> Attachment:
        return Attachment(
            file_id=self.id,
            name=self.name or self.title,
            mimetype=self.mimetype,
            size=self.size,
            url=self.url_private_download or self.url_private,
            kind=self.subtype,
        )


def attachment_of(files: Any, text: str) -> Attachment | None:
    """The file of a message the relay acts on: its first recording; with no text, its
    first file (a refusal tells why it is not sent); otherwise None (the text goes on)."""
    if not isinstance(files, list):
        return None
    shared: list[Attachment] = []
    for raw in files:
        try:
            shared.append(_File.model_validate(raw).attachment())
        except ValidationError:
            continue  # a file Slack hides (``mode: hidden_by_limit``) has no fields to read
    audio = next((f for f in shared if is_audio(f)), None)
    if audio is not None:
        return audio
    return shared[0] if shared and not text.strip() else None


def _slack_host(url: str, also: str | None) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if also is not None and parts.netloc == also:
        return True
    https = parts.scheme == "https"
    return https and any(host == h or host.endswith("." + h) for h in SLACK_FILE_HOSTS)


class SlackFiles:
    """Fetches shared files with the bot token (the relay's
    :class:`~slackbot.relay.voice.FileFetcher`).

    ``api_url`` is Slack's Web API address: files on its host are Slack's too (a
    sandbox's fake Slack, or an enterprise's own address). ``token``: the bot token, or
    how to have the token of the workspace the running work is for.
    """

    def __init__(
        self,
        token: str | Callable[[], Awaitable[str | None]],
        api_url: str,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._token = token
        self._api_host = urlsplit(api_url).netloc or None
        self._http = http or httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch(self, url: str, max_bytes: int) -> bytes:
        if not _slack_host(url, self._api_host):
            raise FetchFailed("not a Slack file address", transient=False)
        token = self._token if isinstance(self._token, str) else await self._token()
        if not token:
            raise FetchFailed("no bot token for this workspace", transient=False)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self._http.stream("GET", url, headers=headers) as response:
                self._check(response)
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise FetchFailed("larger than allowed", transient=False, too_big=True)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchFailed("larger than allowed", transient=False, too_big=True)
                return bytes(body)
        except httpx.HTTPError as exc:
            raise FetchFailed(f"no answer ({type(exc).__name__})", transient=True) from None

    @staticmethod
    def _check(response: httpx.Response) -> None:
        """Slack answers a token it will not take with its sign-in page (a redirect, or
        HTML), not with an error status."""
        status = response.status_code
        if status == 429 or status >= 500:
            raise FetchFailed(f"Slack answered {status}", transient=True)
        if 300 <= status < 400:
            raise FetchFailed(f"Slack answered {status} (the token was not taken)", transient=False)
        if status != 200:
            raise FetchFailed(f"Slack answered {status}", transient=False)
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "text/html":
            raise FetchFailed(
                "Slack answered with a web page (the token was not taken)", transient=False
            )
