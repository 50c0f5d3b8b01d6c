"""A recording as Amigo takes it: any audio file in, a mono MP3 out.

Amigo's voice messages are MP3 or raw PCM (``request_audio_config``); Slack's clips are
AAC in MP4 or Opus in WebM, and people share other audio files too. :func:`to_mp3`
decodes whatever FFmpeg (bundled with PyAV) reads and encodes it with LAME, refusing
with :class:`AudioUnusable` what is not audio, cannot be read, or plays longer than
allowed. It is CPU work that blocks: call it in a thread (``asyncio.to_thread``).

It lives beside the client because what it makes is what Amigo's spec asks for; it
knows nothing of Slack (the bytes come from wherever the caller fetched them).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

import av
import av.error

SAMPLE_RATE = 16_000
"""Speech needs no more (an MP3 rate LAME encodes at 16 kHz)."""
BIT_RATE = 48_000


class Problem(StrEnum):
    """Why a recording cannot go to Amigo."""

    UNREADABLE = "unreadable"  # not a media file FFmpeg can read, or a broken one
    NO_AUDIO = "no-audio"  # a media file without sound (an image, a silent video)
    TOO_LONG = "too-long"
    EMPTY = "empty"  # it reads, but holds no sound at all


class AudioUnusable(Exception):
    """The recording cannot be sent; ``problem`` says why (``detail`` is for logs)."""

    def __init__(self, problem: Problem, detail: str = "") -> None:
        self.problem = problem
        self.detail = detail
        super().__init__(f"{problem}: {detail}" if detail else str(problem))


@dataclass(frozen=True, slots=True)
class Mp3:
    data: bytes
    seconds: float


def to_mp3(data: bytes, *, max_seconds: float) -> Mp3:
    """``data`` (a recording in any format FFmpeg reads) as a mono MP3.

    Raises :class:`AudioUnusable` for bytes that are not audio, cannot be decoded, hold
    nothing, or play longer than ``max_seconds`` (told from the container's duration
    when it has one, else while decoding, so a long file is not decoded whole).
    """
    try:
        return _convert(data, max_seconds)
    except AudioUnusable:
        raise
    except (av.error.FFmpegError, ValueError, IndexError, EOFError, OSError) as exc:
        raise AudioUnusable(Problem.UNREADABLE, f"{type(exc).__name__}: {exc}") from None


def _convert(data: bytes, max_seconds: float) -> Mp3:
    if not data:
        raise AudioUnusable(Problem.EMPTY, "no bytes")
    with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as source:
        if not source.streams.audio:
            raise AudioUnusable(Problem.NO_AUDIO, f"format {source.format.name}")
        stream = source.streams.audio[0]
        if source.duration is not None and source.duration / av.time_base > max_seconds:
            raise AudioUnusable(Problem.TOO_LONG, f"{source.duration / av.time_base:.1f} s")
        out = io.BytesIO()
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=SAMPLE_RATE)
        samples = 0
        with av.open(out, mode="w", format="mp3") as target:
            encoder = target.add_stream("libmp3lame", rate=SAMPLE_RATE, layout="mono")
            encoder.bit_rate = BIT_RATE
            for frame in source.decode(stream):
                for resampled in resampler.resample(frame):
                    samples += resampled.samples
                    if samples > max_seconds * SAMPLE_RATE:
                        raise AudioUnusable(Problem.TOO_LONG, f"over {max_seconds:.0f} s")
                    target.mux(encoder.encode(resampled))
            for resampled in resampler.resample(None):
                samples += resampled.samples
                target.mux(encoder.encode(resampled))
            if not samples:
                raise AudioUnusable(Problem.EMPTY, "no samples decoded")
            target.mux(encoder.encode(None))
    return Mp3(out.getvalue(), samples / SAMPLE_RATE)
