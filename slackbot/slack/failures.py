"""slack_sdk's errors as the relay knows them: refused (with Slack's code), or no answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError

from slackbot.relay.ports import SlackRefused, SlackUnreachable


@contextmanager
def failures(method: str) -> Iterator[None]:
    """slack_sdk's errors as the relay knows them: refused (with Slack's code), or no answer."""
    try:
        yield
    except SlackApiError as exc:
        raise SlackRefused(method, str(exc.response.get("error") or "error")) from exc
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise SlackUnreachable(f"{method}: {type(exc).__name__}") from exc
    except SlackRequestError as exc:  # the streaming helper: the stream already ended
        raise SlackRefused(method, "message_not_in_streaming_state") from exc
    except ValueError as exc:  # an answer that is not Slack's JSON (a proxy's error page)
        raise SlackUnreachable(f"{method}: an unreadable answer") from exc
