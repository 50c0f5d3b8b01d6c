"""Recordings become the MP3 Amigo takes; anything else is a clear refusal."""

from __future__ import annotations

import io

import av
import pytest

from slackbot.amigo.audio import AudioUnusable, Problem, to_mp3
from tests.audio_clips import played_seconds, sine_clip


@pytest.mark.parametrize("kind", ["mp4", "webm", "wav"])
def test_a_clip_becomes_a_mono_mp3_of_the_same_length(kind: str) -> None:
    mp3 = to_mp3(sine_clip(kind, seconds=1.5), max_seconds=60)
    assert played_seconds(mp3.data, expect_format="mp3") == pytest.approx(1.5, abs=0.1)
    assert mp3.seconds == pytest.approx(1.5, abs=0.1)
    with av.open(io.BytesIO(mp3.data)) as container:
        assert container.streams.audio[0].codec_context.channels == 1


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", Problem.EMPTY),
        (b"this is not audio at all, just some words" * 50, Problem.UNREADABLE),
        (bytes(range(256)) * 40, Problem.UNREADABLE),
        (sine_clip("mp4")[:200], Problem.UNREADABLE),
    ],
    ids=["empty", "text", "noise", "cut-short"],
)
def test_bytes_that_are_not_a_recording_are_refused_with_a_reason(
    data: bytes, problem: Problem
) -> None:
    with pytest.raises(AudioUnusable) as refused:
        to_mp3(data, max_seconds=60)
    assert refused.value.problem == problem


def test_a_picture_has_no_audio() -> None:
    out = io.BytesIO()
    with av.open(out, mode="w", format="image2pipe") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 8, 8, "rgb24"
        frame = av.VideoFrame(8, 8, "rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    with pytest.raises(AudioUnusable) as refused:
        to_mp3(out.getvalue(), max_seconds=60)
    assert refused.value.problem == Problem.NO_AUDIO


@pytest.mark.parametrize("kind", ["mp4", "webm"])
def test_a_recording_longer_than_allowed_is_refused(kind: str) -> None:
    with pytest.raises(AudioUnusable) as refused:
        to_mp3(sine_clip(kind, seconds=3.0), max_seconds=2.0)
    assert refused.value.problem == Problem.TOO_LONG
    assert to_mp3(sine_clip(kind, seconds=1.0), max_seconds=2.0).seconds < 2.0
