"""Send Events API, slash command and interactivity requests to an app, as Slack does.

Requests are signed like Slack's (``X-Slack-Request-Timestamp`` and ``X-Slack-Signature:
v0=<hex hmac-sha256 of "v0:<ts>:<body>">``, generated with ``slack_sdk``'s
``SignatureVerifier``) and POSTed to ``<base_url>/slack/events``:

* events: a JSON ``event_callback`` envelope;
* slash commands: a form-encoded body;
* interactivity (block actions, shortcuts, ...): form-encoded ``payload=<json>``.

Message timestamps from :meth:`SlackSender.new_ts` are epoch-based like Slack's, strictly
increasing and end in ``5`` (``FakeSlack`` makes ones ending in ``0``), so human posts and
bot replies never share a ``ts`` and still order by wall-clock time.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from slackbot.sandbox.ts import TsClock

__all__ = ["SlackSender", "new_ts"]

Json = dict[str, Any]

_MENTION = re.compile(r"<@([A-Z0-9]+)(?:\|[^>]*)?>")


_CLOCK = TsClock(last_digit=5)
SLACK_EVENT_RETRIES = 3
"""Slack sends an event again up to three times when a delivery fails."""


def new_ts() -> str:
    """A fresh message ``ts`` such as ``"1764180000.123455"`` (unique in this process)."""
    return _CLOCK.next()


def _rich_text_blocks(text: str) -> list[Json]:
    """The ``rich_text`` block Slack attaches to a typed message (mentions and plain text)."""
    elements: list[Json] = []
    pos = 0
    for m in _MENTION.finditer(text):
        if m.start() > pos:
            elements.append({"type": "text", "text": text[pos : m.start()]})
        elements.append({"type": "user", "user_id": m.group(1)})
        pos = m.end()
    if pos < len(text):
        elements.append({"type": "text", "text": text[pos:]})
    return [
        {
            "type": "rich_text",
            "block_id": secrets.token_hex(3),
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
    ]


class SlackSender:
    """Signs and sends requests to ``<base_url>/slack/events`` the way Slack does.

    ``on_event`` is called with every event dict just before it is sent (e.g.
    ``FakeSlack.ingest_event``, so the fake's threads include human posts).
    ``response_url_base`` (e.g. ``FakeSlack.response_url_base``) makes the ``response_url``
    of slash commands and actions point somewhere that records them.

    One sender speaks for one workspace (``team_id``, the app's ``bot_user_id`` there);
    ``enterprise_id`` puts it in an Enterprise Grid org, ``org_wide`` says the app was
    installed for the whole org (events then carry no team in their ``authorizations``).
    """

    def __init__(
        self,
        base_url: str,
        signing_secret: str,
        *,
        team_id: str = "T0TEST",
        api_app_id: str = "A0TEST",
        bot_user_id: str = "UBOT",
        team_domain: str = "fake",
        enterprise_id: str | None = None,
        org_wide: bool = False,
        verification_token: str = "fake-verification-token",  # noqa: S107 - made up
        path: str = "/slack/events",
        response_url_base: str | None = None,
        on_event: Callable[[Json], None] | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = self.base_url + path
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.bot_user_id = bot_user_id
        self.team_domain = team_domain
        self.enterprise_id = enterprise_id
        self.org_wide = org_wide
        self.verification_token = verification_token
        self.response_url_base = response_url_base.rstrip("/") if response_url_base else None
        self.on_event = on_event
        self._verifier = SignatureVerifier(signing_secret)
        self._http = http
        self._owns_http = http is None
        self._timeout = timeout
        self.last_event_id: str | None = None
        self.last_responses: list[httpx.Response] = []
        self._authors: dict[tuple[str, str], str] = {}
        """Who sent each message this sender sent, by (channel, ts)."""

    # ---------------------------------------------------------------- lifecycle

    async def aclose(self) -> None:
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> SlackSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout)
            self._owns_http = True
        return self._http

    # ---------------------------------------------------------------- signing / sending

    @staticmethod
    def new_ts() -> str:
        return new_ts()

    @staticmethod
    def new_event_id() -> str:
        return "Ev" + secrets.token_hex(5).upper()

    def new_trigger_id(self) -> str:
        return f"{time.time_ns() // 1000}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"

    def new_response_url(self) -> str:
        token = secrets.token_hex(12)
        if self.response_url_base:
            return f"{self.response_url_base}/{token}"
        return f"https://hooks.fake.slack.test/actions/{self.team_id}/{time.time_ns()}/{token}"

    def sign(self, body: str | bytes, timestamp: int | str | None = None) -> dict[str, str]:
        """``X-Slack-Request-Timestamp`` and ``X-Slack-Signature`` headers for ``body``."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._verifier.generate_signature(timestamp=ts, body=body)
        assert signature is not None
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}

    def build_request(
        self,
        body: str,
        content_type: str,
        *,
        headers: Mapping[str, str] | None = None,
        timestamp: int | str | None = None,
        signature: str | None = None,
    ) -> httpx.Request:
        """A signed POST to :attr:`url`; ``timestamp``/``signature`` override the real ones."""
        signed = self.sign(body, timestamp)
        if signature is not None:
            signed["X-Slack-Signature"] = signature
        all_headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0"}
        all_headers.update(signed)
        all_headers.update(headers or {})
        return httpx.Request("POST", self.url, content=body.encode("utf-8"), headers=all_headers)

    async def send(self, request: httpx.Request) -> httpx.Response:
        return await self._client().send(request)

    # ---------------------------------------------------------------- events

    def event_envelope(self, event: Mapping[str, Any], *, event_id: str | None = None) -> Json:
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
            "context_team_id": self.team_id,
            "context_enterprise_id": self.enterprise_id,
            "api_app_id": self.api_app_id,
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id or self.new_event_id(),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": self.enterprise_id,
                    "team_id": None if self.org_wide else self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": self.org_wide,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_hex(16),
        }

    def event_request(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | str | None = None,
        signature: str | None = None,
    ) -> httpx.Request:
        envelope = self.event_envelope(event, event_id=event_id)
        self.last_event_id = envelope["event_id"]
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason
        return self.build_request(
            json.dumps(envelope),
            "application/json",
            headers=headers,
            timestamp=timestamp,
            signature=signature,
        )

    async def event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | str | None = None,
        signature: str | None = None,
    ) -> httpx.Response:
        """Send ``event`` in an ``event_callback`` envelope (``event_id`` generated if None;
        read it back from :attr:`last_event_id` to send a retry).

        Like Slack, a delivery that gets no answer at all (the connection broke) is sent
        again, up to three times, as a retry of the same event.
        """
        request = self.event_request(
            event,
            event_id=event_id,
            retry_num=retry_num,
            retry_reason=retry_reason,
            timestamp=timestamp,
            signature=signature,
        )
        if self.on_event is not None:
            self.on_event(dict(event))
        event_id = self.last_event_id
        for attempt in range(1, SLACK_EVENT_RETRIES + 1):
            try:
                return await self.send(request)
            except httpx.TransportError:
                request = self.event_request(
                    event,
                    event_id=event_id,
                    retry_num=max(retry_num or 0, attempt),
                    retry_reason="http_error",
                    timestamp=timestamp,
                    signature=signature,
                )
        return await self.send(request)

    def mention(
        self,
        user: str,
        text: str,
        *,
        channel: str = "C0CHAN",
        ts: str | None = None,
        thread_ts: str | None = None,
    ) -> Json:
        """An ``app_mention`` event; ``text`` is used as-is (include ``<@UBOT>`` yourself)."""
        ts = ts or new_ts()
        event: Json = {
            "type": "app_mention",
            "user": user,
            "text": text,
            "ts": ts,
            "client_msg_id": secrets.token_hex(16),
            "team": self.team_id,
            "blocks": _rich_text_blocks(text),
            "channel": channel,
            "event_ts": ts,
        }
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
        return event

    def message(
        self,
        user: str,
        text: str,
        *,
        channel: str = "C0CHAN",
        ts: str | None = None,
        thread_ts: str | None = None,
        channel_type: str = "channel",
        subtype: str | None = None,
        bot_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
        parent_user_id: str | None = None,
    ) -> Json:
        """A ``message`` event (``extra`` fields are merged in last). A thread reply names
        who began its thread (``parent_user_id``, as Slack does): the author of the root if
        this sender sent it, else ``parent_user_id``."""
        ts = ts or new_ts()
        event: Json = {"type": "message"}
        if subtype is not None:
            event["subtype"] = subtype
        event.update({"user": user, "text": text, "ts": ts, "team": self.team_id})
        if bot_id is not None:
            event["bot_id"] = bot_id
        elif subtype is None:
            event["client_msg_id"] = secrets.token_hex(16)
            event["blocks"] = _rich_text_blocks(text)
        if thread_ts is not None:
            event["thread_ts"] = thread_ts
            parent = parent_user_id or self._authors.get((channel, thread_ts))
            if thread_ts != ts and parent:
                event["parent_user_id"] = parent
        self._authors.setdefault((channel, ts), user)
        event.update({"channel": channel, "event_ts": ts, "channel_type": channel_type})
        event.update(extra or {})
        return event

    async def post_message(
        self,
        user: str,
        text: str,
        *,
        channel: str = "C0CHAN",
        thread_ts: str | None = None,
        channel_type: str = "channel",
        ts: str | None = None,
        parent_user_id: str | None = None,
    ) -> str:
        """Send the ``message`` event of a plain post and return its ts (the answer is in
        :attr:`last_responses`)."""
        ts = ts or new_ts()
        event = self.message(
            user,
            text,
            channel=channel,
            ts=ts,
            thread_ts=thread_ts,
            channel_type=channel_type,
            parent_user_id=parent_user_id,
        )
        self.last_responses = [await self.event(event)]
        return ts

    def file_share(
        self,
        user: str,
        files: list[Json],
        text: str = "",
        *,
        channel: str = "C0CHAN",
        ts: str | None = None,
        thread_ts: str | None = None,
        channel_type: str = "channel",
    ) -> Json:
        """The ``message`` event (``subtype: file_share``) of a post that shares ``files``
        (Slack's file objects, e.g. from ``FakeSlack.add_file``), with optional text."""
        event = self.message(
            user,
            text,
            channel=channel,
            ts=ts,
            thread_ts=thread_ts,
            channel_type=channel_type,
            subtype="file_share",
        )
        event.update(files=[dict(f) for f in files], upload=False, display_as_bot=False)
        if text:
            event["blocks"] = _rich_text_blocks(text)
        return event

    async def post_file(
        self,
        user: str,
        files: list[Json],
        text: str = "",
        *,
        channel: str = "C0CHAN",
        thread_ts: str | None = None,
        channel_type: str = "channel",
        ts: str | None = None,
    ) -> str:
        """Send the ``file_share`` message event of a post sharing ``files`` (and, when
        ``text`` mentions the app, its ``app_mention`` too, which carries the files as
        well); returns the ts."""
        ts = ts or new_ts()
        event = self.file_share(
            user,
            files,
            text,
            channel=channel,
            ts=ts,
            thread_ts=thread_ts,
            channel_type=channel_type,
        )
        events = [event]
        if f"<@{self.bot_user_id}" in text:
            mention = self.mention(user, text, channel=channel, ts=ts, thread_ts=thread_ts)
            mention["files"] = event["files"]
            events.insert(0, mention)
        self.last_responses = [await self.event(e) for e in events]
        return ts

    async def post_mention(
        self,
        user: str,
        text: str,
        *,
        channel: str = "C0CHAN",
        thread_ts: str | None = None,
        ts: str | None = None,
        channel_type: str = "channel",
        concurrent: bool = True,
    ) -> str:
        """Send what Slack sends for one post mentioning the bot: an ``app_mention`` and a
        ``message`` event (own event ids, same ts), concurrently unless told otherwise.

        Returns the ts. The answers (mention's first) are in :attr:`last_responses`; they are
        not checked, since bolt answers 404 to events no listener handles.
        """
        ts = ts or new_ts()
        mention = self.mention(user, text, channel=channel, ts=ts, thread_ts=thread_ts)
        message = self.message(
            user, text, channel=channel, ts=ts, thread_ts=thread_ts, channel_type=channel_type
        )
        message["client_msg_id"] = mention["client_msg_id"]
        message["blocks"] = mention["blocks"]
        if concurrent:
            responses = list(await asyncio.gather(self.event(mention), self.event(message)))
        else:
            responses = [await self.event(mention), await self.event(message)]
        self.last_responses = responses
        return ts

    async def url_verification(self, challenge: str) -> httpx.Response:
        body = {
            "token": self.verification_token,
            "challenge": challenge,
            "type": "url_verification",
        }
        return await self.send(self.build_request(json.dumps(body), "application/json"))

    # ---------------------------------------------------------------- slash commands

    def slash_command_form(
        self,
        command: str = "/amigo",
        text: str = "",
        *,
        user: str,
        channel: str = "C0CHAN",
        trigger_id: str | None = None,
        response_url: str | None = None,
        user_name: str | None = None,
        channel_name: str | None = None,
    ) -> dict[str, str]:
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel,
            "channel_name": channel_name or ("directmessage" if channel[:1] == "D" else "general"),
            "user_id": user,
            "user_name": user_name or user.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
            "is_enterprise_install": "true" if self.org_wide else "false",
            "response_url": response_url or self.new_response_url(),
            "trigger_id": trigger_id or self.new_trigger_id(),
        }

    async def send_form(self, fields: Mapping[str, str]) -> httpx.Response:
        """POST arbitrary form fields, signed."""
        body = urlencode(dict(fields))
        return await self.send(self.build_request(body, "application/x-www-form-urlencoded"))

    async def slash_command(
        self,
        command: str = "/amigo",
        text: str = "",
        *,
        user: str,
        channel: str = "C0CHAN",
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> httpx.Response:
        form = self.slash_command_form(
            command,
            text,
            user=user,
            channel=channel,
            trigger_id=trigger_id,
            response_url=response_url,
        )
        return await self.send_form(form)

    # ---------------------------------------------------------------- interactivity

    def _user(self, user: str) -> Json:
        return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": self.team_id}

    def _team(self) -> Json:
        return {"id": self.team_id, "domain": self.team_domain}

    def block_action_payload(
        self,
        user: str,
        action_id: str,
        value: str | None,
        *,
        channel: str,
        message_ts: str,
        thread_ts: str | None = None,
        block_id: str | None = None,
        action_type: str = "button",
        selected_option_value: str | None = None,
        message_text: str = "",
        is_ephemeral: bool = False,
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> Json:
        action_ts = f"{time.time():.6f}"
        action: Json = {
            "action_id": action_id,
            "block_id": block_id or secrets.token_hex(3),
            "type": action_type,
            "action_ts": action_ts,
        }
        if action_type == "button":
            action["text"] = {"type": "plain_text", "text": value or action_id, "emoji": True}
            if value is not None:
                action["value"] = value
        elif action_type in ("static_select", "external_select", "radio_buttons", "overflow"):
            chosen = selected_option_value if selected_option_value is not None else value
            action["selected_option"] = {
                "text": {"type": "plain_text", "text": chosen or "", "emoji": True},
                "value": chosen,
            }
        elif value is not None:
            action["value"] = value
        container: Json = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": is_ephemeral,
        }
        if thread_ts is not None:
            container["thread_ts"] = thread_ts
        payload: Json = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": container,
            "trigger_id": trigger_id or self.new_trigger_id(),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": channel.lower()},
            "state": {"values": {}},
            "response_url": response_url or self.new_response_url(),
            "actions": [action],
        }
        if not is_ephemeral:  # Slack leaves the message out for ephemeral ones
            message: Json = {
                "type": "message",
                "user": self.bot_user_id,
                "ts": message_ts,
                "text": message_text,
                "team": self.team_id,
            }
            if thread_ts is not None:
                message["thread_ts"] = thread_ts
            payload["message"] = message
        return payload

    def view_submission_payload(
        self,
        user: str,
        view: Mapping[str, Any],
        values: Mapping[str, Mapping[str, str | Mapping[str, Any]]],
    ) -> Json:
        """A modal's Submit: ``view`` as the app opened it, ``values`` per block and action
        id: the text typed into a plain-text input, or an input's whole state (a select's
        ``{"type": "conversations_select", "selected_conversation": "C…"}``)."""
        state: dict[str, Json] = {}
        for block, inputs in values.items():
            for action, typed in inputs.items():
                entry = (
                    dict(typed)
                    if isinstance(typed, Mapping)
                    else {"type": "plain_text_input", "value": typed}
                )
                state.setdefault(block, {})[action] = entry
        return {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self.new_trigger_id(),
            "view": {
                "id": "V" + secrets.token_hex(5).upper(),
                "type": "modal",
                "callback_id": view.get("callback_id", ""),
                "private_metadata": view.get("private_metadata", ""),
                "blocks": view.get("blocks", []),
                "state": {"values": state},
            },
        }

    def message_shortcut_payload(
        self,
        callback_id: str,
        user: str,
        *,
        channel: str,
        message_ts: str,
        thread_ts: str | None = None,
        message_text: str = "",
        message_user: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> Json:
        message: Json = {
            "type": "message",
            "user": message_user or user,
            "ts": message_ts,
            "text": message_text,
            "team": self.team_id,
        }
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
        return {
            "type": "message_action",
            "token": self.verification_token,
            "action_ts": f"{time.time():.6f}",
            "team": self._team(),
            "user": self._user(user),
            "channel": {"id": channel, "name": channel.lower()},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": trigger_id or self.new_trigger_id(),
            "response_url": response_url or self.new_response_url(),
            "message_ts": message_ts,
            "message": message,
        }

    async def send_payload(self, payload: Mapping[str, Any]) -> httpx.Response:
        """POST an interactivity payload as Slack does: form-encoded ``payload=<json>``."""
        return await self.send_form({"payload": json.dumps(payload)})

    async def block_action(
        self,
        user: str,
        action_id: str,
        value: str | None,
        *,
        channel: str,
        message_ts: str,
        thread_ts: str | None = None,
        block_id: str | None = None,
        action_type: str = "button",
        selected_option_value: str | None = None,
    ) -> httpx.Response:
        payload = self.block_action_payload(
            user,
            action_id,
            value,
            channel=channel,
            message_ts=message_ts,
            thread_ts=thread_ts,
            block_id=block_id,
            action_type=action_type,
            selected_option_value=selected_option_value,
        )
        return await self.send_payload(payload)

    def home_action_payload(
        self, user: str, action_id: str, value: str, *, view: Mapping[str, Any]
    ) -> Json:
        """A button clicked in the Home tab ``view`` (as the app published it): no
        channel, no message, no response URL; the view instead."""
        return {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": {"type": "view", "view_id": "V" + secrets.token_hex(5).upper()},
            "trigger_id": self.new_trigger_id(),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": {"type": "home", "blocks": view.get("blocks", []), "state": {"values": {}}},
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": secrets.token_hex(3),
                    "type": "button",
                    "value": value,
                    "text": {"type": "plain_text", "text": "Finish", "emoji": True},
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    async def message_shortcut(
        self,
        callback_id: str,
        user: str,
        *,
        channel: str,
        message_ts: str,
        thread_ts: str | None = None,
        message_text: str = "",
    ) -> httpx.Response:
        payload = self.message_shortcut_payload(
            callback_id,
            user,
            channel=channel,
            message_ts=message_ts,
            thread_ts=thread_ts,
            message_text=message_text,
        )
        return await self.send_payload(payload)
