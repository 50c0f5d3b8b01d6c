"""The benchmark's loads and its scripted people: what each one asks, and what Amigo answers."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from slackbot.sandbox.amigo_fake import split_text


@dataclass(frozen=True)
class Load:
    threads: int
    channels: int

    @property
    def label(self) -> str:
        return f"{self.threads}x{self.channels}"


def parse_loads(text: str) -> tuple[Load, ...]:
    """``10x2,200x20``: threads x channels, comma-separated. Raises ValueError."""
    loads = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        match = re.fullmatch(r"(\d+)\s*[xX]\s*(\d+)", part)
        if match is None:
            raise ValueError(f"{part!r} is not THREADSxCHANNELS (e.g. 200x20)")
        load = Load(int(match.group(1)), int(match.group(2)))
        if load.threads < 1 or not 1 <= load.channels <= load.threads:
            raise ValueError(f"{part!r}: need at least one thread, and 1 to THREADS channels")
        if load in loads:
            raise ValueError(f"{part!r} is given twice")
        loads.append(load)
    if not loads:
        raise ValueError("no load given")
    return tuple(loads)


_WORDS = (
    "account access admin answer app billing browser cache change check client code "
    "config connect customer data default device email error export file first follow "
    "guide help install invoice issue key limit link list login message network next "
    "option order page password plan policy profile project report request reset role "
    "search server service settings setup share sign step support team ticket token "
    "update upload user version view workspace"
).split()


def _sentence(rng: random.Random, end: str = ".") -> str:
    words = rng.choices(_WORDS, k=rng.randint(6, 16))
    return " ".join(words).capitalize() + end


def _reply_text(rng: random.Random) -> str:
    """300-900 characters of plain prose in short paragraphs."""
    target = rng.randint(300, 780)
    paragraphs: list[list[str]] = [[]]
    length = 0
    while length < target:
        if paragraphs[-1] and rng.random() < 0.3:
            paragraphs.append([])
        sentence = _sentence(rng)
        paragraphs[-1].append(sentence)
        length += len(sentence) + 1
    return "\n\n".join(" ".join(p) for p in paragraphs)


@dataclass(frozen=True)
class TurnScript:
    """One message of a person and the answer Amigo streams to it."""

    user_text: str
    reply_text: str
    pieces: int
    delay: float
    """Seconds between two pieces."""
    think: float
    """Seconds before the first piece."""
    pause: float
    """Seconds the person waits, after the answer is complete, before the next message."""

    @property
    def first_piece(self) -> str:
        return split_text(self.reply_text, self.pieces)[0]


@dataclass(frozen=True)
class ThreadScript:
    index: int
    user_id: str
    channel: str
    start_delay: float
    turns: tuple[TurnScript, ...]


def write_scripts(load: Load, *, turns: int, seed: int, ramp: float) -> list[ThreadScript]:
    """Every thread's messages and answers for one load, the same for every writer
    (given the seed).

    User texts are unique (FakeAmigo matches an answer to its message by the text) and so
    are the answers' first pieces (which tell whose answer a stream is).
    """
    rng = random.Random(seed)
    user_texts: set[str] = set()
    first_pieces: set[str] = set()
    threads = []
    for index in range(load.threads):
        scripted = []
        for _ in range(turns):
            user_text = _sentence(rng, "?")
            while user_text in user_texts:
                user_text = _sentence(rng, "?")
            user_texts.add(user_text)
            while True:
                reply_text = _reply_text(rng)
                pieces = max(1, round(len(reply_text) / rng.uniform(20, 60)))
                turn = TurnScript(
                    user_text=user_text,
                    reply_text=reply_text,
                    pieces=pieces,
                    delay=rng.uniform(0.05, 0.12),
                    think=rng.uniform(0.3, 1.2),
                    pause=rng.uniform(1.0, 3.0),
                )
                if turn.first_piece not in first_pieces:
                    break
            first_pieces.add(turn.first_piece)
            scripted.append(turn)
        threads.append(
            ThreadScript(
                index=index,
                user_id=f"UBENCH{index:05d}",
                channel=f"CBENCH{index % load.channels:04d}",
                start_delay=rng.uniform(0, ramp),
                turns=tuple(scripted),
            )
        )
    return threads
