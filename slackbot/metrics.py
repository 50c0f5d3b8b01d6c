"""What an operator can watch at ``GET /metrics`` (Prometheus' text format).

One :class:`Metrics` per runtime, in a registry of its own, so that several apps in one
process (tests) do not share counters.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._events = Counter(
            "amigo_slack_events",
            "People's messages at the edge, by what became of them",
            ["outcome"],
            registry=r,
        )
        self._turns = Counter(
            "amigo_slack_turns_ended", "Turns that ended, by their end state", ["state"], registry=r
        )
        self._waiting = Gauge(
            "amigo_slack_turns_waiting", "Turns queued or held, as of the last sweep", registry=r
        )
        self._amigo = Histogram(
            "amigo_slack_amigo_request_seconds",
            "Amigo calls by operation and HTTP status (0: no answer), until the answer began",
            ["operation", "status"],
            buckets=_SECONDS,
            registry=r,
        )
        self._slack = Counter(
            "amigo_slack_slack_calls",
            "Slack Web API calls by method, result (ok, or Slack's error) and workspace",
            ["method", "result", "team"],
            registry=r,
        )
        self._limited = Counter(
            "amigo_slack_slack_rate_limited",
            "Slack's 429 answers by method and workspace",
            ["method", "team"],
            registry=r,
        )
        self._writers = Counter(
            "amigo_slack_reply_writers",
            "How replies reached Slack (stream, edit, post), by why that writer was chosen",
            ["writer", "reason"],
            registry=r,
        )
        self._feedback = Counter(
            "amigo_slack_feedback",
            "Votes on replies (a changed vote counts again), by vote",
            ["vote"],
            registry=r,
        )
        self._first_text = Histogram(
            "amigo_slack_first_text_seconds",
            "From a person's message to the first text of its reply in the thread",
            buckets=_SECONDS,
            registry=r,
        )

    def event(self, outcome: str) -> None:
        self._events.labels(outcome).inc()

    def turn_ended(self, state: str) -> None:
        self._turns.labels(state).inc()

    def waiting(self, turns: int) -> None:
        self._waiting.set(turns)

    def amigo_call(self, operation: str, status: int, seconds: float) -> None:
        self._amigo.labels(operation, str(status)).observe(seconds)

    def slack_call(self, method: str, result: str, team: str = "") -> None:
        """``team``: the workspace called for (only those the app serves: the label stays
        bounded)."""
        self._slack.labels(method, result, team).inc()

    def rate_limited(self, method: str, team: str = "") -> None:
        self._limited.labels(method, team).inc()

    def feedback(self, vote: str) -> None:
        self._feedback.labels(vote).inc()

    def writer_chosen(self, writer: str, reason: str) -> None:
        self._writers.labels(writer, reason).inc()

    def first_text(self, seconds: float) -> None:
        self._first_text.observe(max(0.0, seconds))

    def render(self) -> tuple[bytes, str]:
        """The exposition and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
