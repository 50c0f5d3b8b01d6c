"""Whether the app is healthy, as an admin reads it on the Home tab.

The same facts the operator's endpoints use: the database is the one ``/healthz``
asks (a write that must go through), Slack's side is the workspace's budgets (what
Slack rate-limited and what waits); Amigo is asked for one conversation of the service.
"""

from __future__ import annotations

from dataclasses import dataclass

from slackbot.amigo.errors import (
    AmigoAuthError,
    AmigoError,
    AmigoRateLimited,
    AmigoTransportError,
    AmigoUnavailable,
)
from slackbot.relay.budgets import Budgets, Strain
from slackbot.relay.ports import AmigoPort
from slackbot.store.repo import Store
from slackbot.ui.home import Health


def amigo_problem(exc: AmigoError) -> str:
    """What went wrong with Amigo, in a few words."""
    if isinstance(exc, AmigoTransportError):
        return "does not answer (no connection, or no answer in time)"
    if isinstance(exc, AmigoRateLimited):
        return "asks the app to slow down (429)"
    if isinstance(exc, AmigoUnavailable):
        return f"is unavailable ({exc.status})"
    if isinstance(exc, AmigoAuthError):
        return f"refuses the app's API key or user ({exc.status})"
    return f"answered with an error ({exc.status or exc})"


def strain_problem(strain: Strain) -> str:
    said = [f"{strain.method}:"]
    if strain.paused_for > 0:
        said.append(f"paused {strain.paused_for:.0f} s more after Slack's 429;")
    if strain.waiting:
        said.append(f"{strain.waiting} call(s) waiting for the budget;")
    if strain.limited:
        said.append(f"rate-limited {strain.limited} time(s) since start")
    return " ".join(said).rstrip(";")


@dataclass(frozen=True, slots=True)
class Asked:
    """Amigo was asked: ``problem`` is what went wrong (None: it answered)."""

    problem: str | None = None


class HealthCheck:
    def __init__(
        self,
        store: Store,
        amigo: AmigoPort,
        budgets: Budgets,
        *,
        as_user: str,
        service_id: str,
    ) -> None:
        self._store = store
        self._amigo = amigo
        self._budgets = budgets
        self._as_user = as_user
        self._service_id = service_id

    async def report(self, asked: Asked | None = None) -> Health:
        """How the app is doing now; ``asked``: how Amigo answered just now, if it was
        asked (else it is asked here)."""
        if asked is None:
            asked = Asked()
            try:
                await self._amigo.get_conversations(
                    self._as_user, service_ids=[self._service_id], limit=1
                )
            except AmigoError as exc:
                asked = Asked(amigo_problem(exc))
        return Health(
            database=await self._store.writable(),
            amigo=asked.problem,
            slack=[strain_problem(s) for s in self._budgets.strained()],
        )
