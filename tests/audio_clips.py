"""Recordings made in the test with PyAV, as Slack's clients record them: AAC in MP4
(Slack's own clips, ``audio/mp4``) and Opus in WebM (browsers, ``audio/webm``)."""

from __future__ import annotations

import array
import io
import math

import av

FORMATS = {
    "mp4": ("mp4", "aac", 48_000),
    "webm": ("webm", "libopus", 48_000),
    "wav": ("wav", "pcm_s16le", 16_000),
}


def sine_clip(kind: str = "mp4", seconds: float = 1.0, hz: float = 440.0) -> bytes:
    """``seconds`` of a sine tone in the container and codec of ``kind``."""
    container_format, codec, rate = FORMATS[kind]
    out = io.BytesIO()
    with av.open(out, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        frame_size = stream.codec_context.frame_size or 1024
        total = int(seconds * rate)
        fmt = stream.codec_context.format.name
        for start in range(0, total, frame_size):
            count = min(frame_size, total - start)
            wave = [0.5 * math.sin(2 * math.pi * hz * (start + i) / rate) for i in range(count)]
            if fmt.startswith("s16"):
                samples = array.array("h", (int(x * 32767) for x in wave))
            else:
                samples = array.array("f", wave)
            frame = av.AudioFrame(format=fmt, layout="mono", samples=count)
            frame.planes[0].update(samples.tobytes())
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def played_seconds(data: bytes, expect_format: str | None = None) -> float:
    """How long ``data`` plays, decoded sample by sample (and its container format
    checked when ``expect_format`` is given)."""
    with av.open(io.BytesIO(data)) as container:
        if expect_format is not None:
            assert container.format.name == expect_format, container.format.name
        stream = container.streams.audio[0]
        samples = 0
        rate = 0
        for frame in container.decode(stream):
            samples += frame.samples
            rate = frame.sample_rate
        assert rate, "no audio decoded"
        return samples / rate
