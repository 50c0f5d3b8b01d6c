"""The figures of one run (a load with a writer), and the report that compares them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.observe import REPLY_METHODS
from benchmarks.script import Load

ADAPTIVE = "adaptive"
PACED = "paced"
NAIVE = "edit-per-piece"
WRITERS = (ADAPTIVE, PACED, NAIVE)


@dataclass
class RunFigures:
    load: Load
    writer: str
    code: str
    """:func:`code_fingerprint` when the app started."""
    wall_seconds: float
    threads: int
    turns_planned: int
    turns_sent: int
    replies_final: int
    replies_notice: int
    replies_other: int
    replies_settled: int
    replies_timed_out: int
    starts_failed: int
    replies_wrong_text: int
    """Replies whose messages, at the end, do not read exactly as Amigo's answer."""
    replies_by_writer: Counter[str]
    """How each reply reached Slack, as seen from its calls (see ReplyRecord.writer)."""
    writers_chosen: Counter[str]
    """The app's own count of the writers it chose (from /metrics; empty for the naive)."""
    ack_ms: list[float]
    ack_failures: int
    alive_s: list[float]
    """From the message being sent to the reply's first sign of life."""
    amigo_open_s: list[float]
    """From the message being sent to Amigo's first event of the answer."""
    first_text_s: list[float]
    """From Amigo's first piece to the first text visible."""
    whole_s: list[float]
    """From Amigo's interaction-complete to the whole answer visible."""
    reply_s: list[float]
    """From the message being sent to the whole answer visible."""
    amigo_stream_s: list[float]
    """From Amigo's first piece to its interaction-complete."""
    calls: Counter[tuple[str, str]]
    """Every call the fake answered, by (method, "ok" | "429" | "error")."""
    unmatched: Counter[str]
    all_429s: int
    cpu_seconds: float | None
    peak_rss_mb: float | None
    log_warnings: int
    log_errors: int
    stopped_early: bool
    app_exits: list[int]
    """Exit codes of app processes that ended before the run did (they should not)."""
    examples: list[str]
    """A few replies that did not end with the whole answer, described for the report."""
    limits: dict[str, tuple[float, int, bool]]
    """The fake Slack's limits in force: method -> (per minute, burst, per channel)."""

    @property
    def replies(self) -> int:
        return self.turns_sent


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def _per(total: float | None, count: int) -> float | None:
    return None if total is None or count == 0 else total / count


@dataclass(frozen=True)
class Row:
    label: str
    get: Callable[[RunFigures], float | None]
    fmt: str
    ratio: bool = False
    """Show writer / adaptive ratios (the latency rows)."""


def _p(name: str, p: float) -> Callable[[RunFigures], float | None]:
    def get(f: RunFigures) -> float | None:
        values: list[float] = getattr(f, name)
        return percentile(values, p)

    return get


def _latency_rows(label: str, name: str, fmt: str = "{:.2f}") -> list[Row]:
    return [Row(f"{label} p{p} (s)", _p(name, p), fmt, ratio=True) for p in (50, 99)]


ROWS_BEFORE_CALLS: list[Row] = [
    Row("turns sent", lambda f: f.turns_sent, "{:.0f}"),
    Row("threads that could not start", lambda f: f.starts_failed, "{:.0f}"),
    Row("replies whole (answer + menu)", lambda f: f.replies_final, "{:.0f}"),
    Row("replies ended with an error notice", lambda f: f.replies_notice, "{:.0f}"),
    Row("replies ended with other text", lambda f: f.replies_other, "{:.0f}"),
    Row("replies whose ending write was refused", lambda f: f.replies_settled, "{:.0f}"),
    Row("replies timed out", lambda f: f.replies_timed_out, "{:.0f}"),
    Row("replies not showing Amigo's answer", lambda f: f.replies_wrong_text, "{:.0f}"),
    Row("replies streamed (startStream)", lambda f: f.replies_by_writer["stream"], "{:.0f}"),
    Row("replies edited (chat.update)", lambda f: f.replies_by_writer["edit"], "{:.0f}"),
    Row("replies posted (status + post)", lambda f: f.replies_by_writer["post"], "{:.0f}"),
    Row("event ack p50 (ms)", _p("ack_ms", 50), "{:.1f}"),
    Row("event ack p99 (ms)", _p("ack_ms", 99), "{:.1f}"),
    Row("event acks failed / not 200", lambda f: f.ack_failures, "{:.0f}"),
    *_latency_rows("message -> sign of life", "alive_s"),
    *_latency_rows("message -> Amigo stream opens", "amigo_open_s"),
    *_latency_rows("Amigo 1st piece -> first text", "first_text_s"),
    *_latency_rows("interaction-complete -> whole answer", "whole_s"),
    *_latency_rows("message -> whole answer", "reply_s", "{:.1f}"),
    Row("Amigo stream (1st piece -> complete) p50", _p("amigo_stream_s", 50), "{:.2f}"),
]


def _calls_per_reply(method: str, outcome: str) -> Callable[[RunFigures], float | None]:
    return lambda f: _per(f.calls[(method, outcome)], f.replies)


def _other_calls(f: RunFigures) -> float | None:
    return _per(sum(n for (m, _), n in f.calls.items() if m not in REPLY_METHODS), f.replies)


def _all_calls(f: RunFigures) -> float | None:
    return _per(sum(f.calls.values()), f.replies)


def call_rows(runs: Sequence[RunFigures]) -> list[Row]:
    """Per method a reply is written with: calls Slack took per reply, and its 429s per
    reply when any run met one; then the rest of the app's calls."""
    rows = []
    for method in REPLY_METHODS:
        if any(r.calls[(method, o)] for r in runs for o in ("ok", "429", "error")):
            rows.append(Row(f"{method} ok / reply", _calls_per_reply(method, "ok"), "{:.2f}"))
            if any(r.calls[(method, "429")] for r in runs):
                rows.append(
                    Row(f"{method} 429s / reply", _calls_per_reply(method, "429"), "{:.2f}")
                )
            if any(r.calls[(method, "error")] for r in runs):
                rows.append(
                    Row(f"{method} errors / reply", _calls_per_reply(method, "error"), "{:.2f}")
                )
    rows.append(Row("other Slack calls / reply", _other_calls, "{:.2f}"))
    rows.append(Row("Slack calls / reply (all, refused too)", _all_calls, "{:.2f}"))
    return rows


ROWS_AFTER_CALLS: list[Row] = [
    Row("Slack 429s (all methods)", lambda f: f.all_429s, "{:.0f}"),
    Row("CPU seconds / turn", lambda f: _per(f.cpu_seconds, f.turns_sent), "{:.3f}", True),
    Row("CPU seconds total", lambda f: f.cpu_seconds, "{:.1f}"),
    Row("peak RSS (MB, largest replica)", lambda f: f.peak_rss_mb, "{:.0f}"),
    Row("wall time (s)", lambda f: f.wall_seconds, "{:.0f}"),
    Row("app log warnings", lambda f: f.log_warnings, "{:.0f}"),
    Row("app log errors", lambda f: f.log_errors, "{:.0f}"),
]


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None or math.isnan(value) else fmt.format(value)


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base <= 0 or math.isnan(value) or math.isnan(base):
        return "-"
    return f"{value / base:.2f}x" if value / base < 100 else f"{value / base:.0f}x"


Check = Callable[[RunFigures, RunFigures | None], tuple[bool, str]]


@dataclass(frozen=True)
class Target:
    """One of the issue's targets for the adaptive writer at one load."""

    load: Load
    text: str
    check: Check
    """(met, what was measured) from the adaptive run and the paced one (if it ran)."""


def _all_whole(f: RunFigures) -> str:
    missing = f.turns_sent - f.replies_final
    return f"; {missing} replies never whole" if missing else ""


def _p99_within(name: str, limit: float) -> Check:
    """The p99 of a latency within ``limit``, and every reply sent has the figure (a
    reply that never got there would be above any limit)."""

    def check(f: RunFigures, _: RunFigures | None) -> tuple[bool, str]:
        values: list[float] = getattr(f, name)
        value = percentile(values, 99)
        missing = f.turns_sent - len(values)
        shown = "-" if value is None else f"{value:.2f} s"
        note = f"; {missing} replies without it" if missing else ""
        return value is not None and value <= limit and not missing, f"p99 {shown}{note}"

    return check


def _no_429s(f: RunFigures, _: RunFigures | None) -> tuple[bool, str]:
    return f.all_429s == 0, f"{f.all_429s} 429s"


def _against_paced(f: RunFigures, paced: RunFigures | None) -> tuple[bool, str]:
    ours = percentile(f.whole_s, 99)
    theirs = percentile(paced.whole_s, 99) if paced is not None else None
    if ours is None or theirs is None:
        return False, "needs the paced run" if paced is None else "no figure"
    ratio = theirs / ours if ours > 0 else math.inf
    return ratio >= 20 and f.turns_sent == f.replies_final, (
        f"paced p99 {theirs:.1f} s / adaptive p99 {ours:.2f} s = {ratio:.1f}x{_all_whole(f)}"
    )


TARGETS = (
    Target(Load(200, 20), "0 Slack 429s", _no_429s),
    Target(
        Load(200, 20),
        "interaction-complete -> whole answer visible <= 3 s at p99",
        _p99_within("whole_s", 3.0),
    ),
    Target(Load(200, 20), "message -> sign of life <= 1 s at p99", _p99_within("alive_s", 1.0)),
    Target(
        Load(200, 20),
        "interaction-complete -> whole answer p99 at least 20x lower than the paced editor's",
        _against_paced,
    ),
    Target(
        Load(10, 2),
        "Amigo's first piece -> first visible text <= 1.5 s at p99",
        _p99_within("first_text_s", 1.5),
    ),
)
"""The issue's targets (for the adaptive writer; set for 200x20 and 10x2)."""


def print_load(load: Load, turns: int, runs: list[RunFigures], first_code: str) -> None:
    """One load's table (writers as columns, ratios to the adaptive writer for the
    latencies), notes, and the issue's targets."""
    by_writer = {r.writer: r for r in runs}
    base = by_writer.get(ADAPTIVE)
    others = [w for w in (PACED, NAIVE) if w in by_writer and base is not None]
    short = {PACED: "paced", NAIVE: "naive"}
    headers = ["", *(r.writer for r in runs), *(f"{short[w]}/adaptive" for w in others)]
    lines = []
    for row in [*ROWS_BEFORE_CALLS, *call_rows(runs), *ROWS_AFTER_CALLS]:
        values = [row.get(r) for r in runs]
        cells = [row.label, *(_cell(v, row.fmt) for v in values)]
        for w in others:
            assert base is not None
            cells.append(_ratio(row.get(by_writer[w]), row.get(base)) if row.ratio else "")
        lines.append(cells)
    widths = [max(len(row[i]) for row in [headers, *lines]) for i in range(len(headers))]

    def fmt_row(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join([first, *rest]) + " |"

    print()
    print(
        f"### {load.label}: {load.threads} threads in {load.channels} channels, {turns} turns each"
    )
    print()
    print(fmt_row(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cells in lines:
        print(fmt_row(cells))
    print()
    for run in runs:
        if run.writers_chosen:
            chosen = ", ".join(f"{w} {n}" for w, n in sorted(run.writers_chosen.items()))
            print(f"- {run.writer}: the app's own count of writers chosen (/metrics): {chosen}")
        if run.stopped_early:
            print(f"- note: the {run.writer} run hit --timeout-minutes; it shows what finished.")
        if run.app_exits:
            print(
                f"- WARNING: in the {run.writer} run, app process(es) exited early "
                f"(exit codes {run.app_exits}); its figures are not valid."
            )
        if run.code != first_code:
            print(
                f"- WARNING: the app's code changed during the benchmark: the {run.writer} run "
                f"had {run.code}, the first run {first_code}."
            )
        if run.unmatched:
            unmatched = ", ".join(f"{m} x{n}" for m, n in sorted(run.unmatched.items()))
            print(f"- note: in the {run.writer} run, calls that matched no reply: {unmatched}")
        for example in run.examples:
            print(f"- {run.writer}, e.g. {example}")
    if base is None:
        return
    targets = [t for t in TARGETS if t.load == load]
    if not targets:
        print("- targets (the issue sets them for other loads; shown for this one):")
        targets = list(TARGETS)
    else:
        print("- targets (adaptive writer):")
    for target in targets:
        met, measured = target.check(base, by_writer.get(PACED))
        where = "" if target.load == load else f" [set for {target.load.label}]"
        print(f"  - [{'met' if met else 'MISSED'}] {target.text}{where}: {measured}")


def describe_limits(limits: dict[str, tuple[float, int, bool]]) -> str:
    return ", ".join(
        f"{m} {per_minute:g}/{burst}{' ch' if per_channel else ''}"
        for m, (per_minute, burst, per_channel) in sorted(limits.items())
        if m in REPLY_METHODS
    )


def print_report(
    parameters: str, loads: Sequence[Load], turns: int, runs: list[RunFigures]
) -> None:
    """The run's parameters (``parameters``), then a table per load."""
    print()
    print(f"{parameters} app code {runs[0].code if runs else '?'}")
    if runs:
        print(
            "fake Slack's limits of the reply methods (per minute/burst, 'ch': per channel): "
            + describe_limits(runs[0].limits)
        )
    for load in loads:
        done = [r for r in runs if r.load == load]
        if done:
            print_load(load, turns, done, runs[0].code)
