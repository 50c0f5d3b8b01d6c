"""Voice turns: a recording the owner shared, fetched and made into Amigo's MP3 when
its turn runs (never while Slack waits for its ack).

The message was saved with the file's reference (:class:`~slackbot.store.records.
Attachment`); here its bytes are fetched with the bot token (through a
:class:`FileFetcher` the Slack layer provides) and converted in a worker thread by
:func:`slackbot.amigo.audio.to_mp3`. Nothing reaches Amigo until both worked, so a
failed fetch is tried again at once when Slack may just be busy, and a person is told
what to do otherwise; a file that is not audio, too big or too long is refused with
its reason.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from slackbot.amigo.audio import AudioUnusable, Problem, to_mp3
from slackbot.store.models import TurnKind
from slackbot.store.records import Attachment, Turn
from slackbot.ui import voice as notices

log = logging.getLogger("slackbot.voice")

SLACK_AUDIO = "slack_audio"
"""Slack's subtype of a clip recorded with its microphone button."""


class FetchFailed(Exception):
    """The file's bytes could not be had. ``transient``: trying again may work (Slack
    was busy or unreachable); ``too_big``: it turned out larger than allowed."""

    def __init__(self, reason: str, *, transient: bool, too_big: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient
        self.too_big = too_big


class FileFetcher(Protocol):
    async def fetch(self, url: str, max_bytes: int) -> bytes:
        """The file at ``url`` (a Slack file URL), at most ``max_bytes`` of it; raises
        :class:`FetchFailed`."""
        ...


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    enabled: bool = True
    max_bytes: int = 20_000_000
    max_seconds: float = 300.0
    fetch_attempts: int = 3
    fetch_backoff: float = 1.0
    conversions: int = 2
    """How many recordings are converted at once (each takes a core while it runs)."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the recording was not sent, for the person; ``retry``: a Retry may work."""

    notice: str
    retry: bool = False


heard_line = notices.heard
"""The line above a voice message's answer: what Amigo heard."""


def is_audio(attachment: Attachment) -> bool:
    return attachment.kind == SLACK_AUDIO or attachment.mimetype.startswith("audio/")


def is_voice(turn: Turn) -> bool:
    """Whether the turn sends a recording (its message's typed text, if any, went first)."""
    return turn.attachment is not None and turn.kind == TurnKind.REPLY and not turn.text.strip()


def voice_follows(turn: Turn) -> bool:
    """Whether the turn's message shared a recording that goes after it (the turn sends
    its typed words, or starts the conversation), as its own voice turn."""
    return turn.attachment is not None and not is_voice(turn)


async def recording(voice: Voice | None, turn: Turn) -> bytes | Refusal:
    """A voice turn's recording as MP3, or why it is not sent (``voice`` None: off)."""
    return await voice.recording(turn) if voice is not None else Refusal(notices.VOICE_OFF)


class Voice:
    def __init__(self, files: FileFetcher, config: VoiceConfig) -> None:
        self._files = files
        self._config = config
        self._converting = asyncio.Semaphore(config.conversions)

    async def recording(self, turn: Turn) -> bytes | Refusal:
        """The turn's recording as MP3, or why it cannot be sent."""
        file = turn.attachment
        assert file is not None
        config = self._config
        if not is_audio(file):
            return Refusal(notices.not_audio(file.name, file.mimetype))
        if not config.enabled:
            return Refusal(notices.VOICE_OFF)
        if file.size > config.max_bytes:
            return Refusal(notices.too_big(file.name, config.max_bytes, file.size))
        data = await self._fetch(turn, file)
        if isinstance(data, Refusal):
            return data
        try:
            async with self._converting:
                mp3 = await asyncio.to_thread(to_mp3, data, max_seconds=config.max_seconds)
        except AudioUnusable as exc:
            log.info("turn %s: file %s not sent (%s)", turn.id, file.file_id, exc)
            if exc.problem == Problem.TOO_LONG:
                return Refusal(notices.too_long(file.name, config.max_seconds))
            return Refusal(notices.unplayable(file.name))
        log.info(
            "turn %s: file %s is %.1f s of voice (%d bytes of MP3)",
            turn.id,
            file.file_id,
            mp3.seconds,
            len(mp3.data),
        )
        return mp3.data

    async def _fetch(self, turn: Turn, file: Attachment) -> bytes | Refusal:
        config = self._config
        for attempt in range(1, config.fetch_attempts + 1):
            try:
                return await self._files.fetch(file.url, config.max_bytes)
            except FetchFailed as exc:
                log.warning(
                    "turn %s: file %s not fetched (attempt %d): %s",
                    turn.id,
                    file.file_id,
                    attempt,
                    exc,
                )
                if exc.too_big:
                    return Refusal(notices.too_big(file.name, config.max_bytes))
                if not exc.transient:
                    return Refusal(notices.not_fetched(file.name))
            if attempt < config.fetch_attempts:
                await asyncio.sleep(config.fetch_backoff * 2 ** (attempt - 1))
        return Refusal(notices.fetch_failed(file.name), retry=True)
