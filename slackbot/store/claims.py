"""Claims: a Slack message, an event, a hint or a retry is taken once, by one process."""

from __future__ import annotations

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Executable,
    String,
    bindparam,
    delete,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from slackbot.store.base import StoreBase
from slackbot.store.models import (
    OPEN_CONVERSATION_STATES,
    ConversationRow,
    ConversationState,
    HintRow,
    InboundRow,
    TurnKind,
    TurnRow,
    TurnState,
    utcnow,
)
from slackbot.store.records import Attachment, Conversation, ThreadKey, Turn


def _queued(
    thread: ThreadKey,
    *,
    ts: str,
    user_id: str,
    text: str,
    conversation_id: int | None,
    kind: TurnKind = TurnKind.REPLY,
    attempt: int = 0,
    attachment: Attachment | None = None,
) -> TurnRow:
    return TurnRow(
        team_id=thread.team_id,
        channel_id=thread.channel_id,
        thread_ts=thread.thread_ts,
        ts=ts,
        user_id=user_id,
        text=text,
        kind=kind,
        conversation_id=conversation_id,
        state=TurnState.QUEUED,
        attempt=attempt,
        reply_ts=None,
        interaction_id=None,
        error=None,
        reply_text=None,
        shown=True,
        attachment=attachment.dumps() if attachment is not None else None,
    )


def _unrouted_where(
    team: BindParameter[str], channel: BindParameter[str], thread_ts: BindParameter[str]
) -> ColumnElement[bool]:
    """A message of the thread is saved but not routed yet."""
    return (
        select(InboundRow.id)
        .where(
            InboundRow.team_id == team,
            InboundRow.channel_id == channel,
            or_(InboundRow.thread_ts == thread_ts, InboundRow.ts == thread_ts),
            InboundRow.routed_at.is_(None),
        )
        .exists()
    )


def _claimed_where(
    team: BindParameter[str] | str, channel: BindParameter[str] | str, ts: BindParameter[str] | str
) -> ColumnElement[bool]:
    """The message has a turn already, at any attempt: a message Amigo lost is queued
    again as its row's next attempt, and Slack may deliver it once more after that."""
    return (
        select(TurnRow.id)
        .where(TurnRow.team_id == team, TurnRow.channel_id == channel, TurnRow.ts == ts)
        .exists()
    )


def _owned_reply_statement() -> Executable:
    """INSERT a queued reply turn SELECTed from the thread's open conversation when
    ``:user`` owns it, no earlier message of the thread waits to be routed and the
    message has no turn yet."""
    team, channel, thread, ts, user, text = (
        bindparam(name, type_=String())
        for name in ("team", "channel", "thread", "ts", "user", "text")
    )
    attachment = bindparam("attachment", type_=TurnRow.__table__.c.attachment.type)
    now = bindparam("now", type_=TurnRow.__table__.c.created_at.type)
    owned = select(
        team,
        channel,
        thread,
        ts,
        user,
        text,
        literal(TurnKind.REPLY.value),
        ConversationRow.id,
        literal(TurnState.QUEUED.value),
        literal(0),
        attachment,
        now,
        now,
    ).where(
        ConversationRow.team_id == team,
        ConversationRow.channel_id == channel,
        ConversationRow.thread_ts == thread,
        ConversationRow.state.in_(OPEN_CONVERSATION_STATES),
        ConversationRow.owner_user_id == user,
        ~_unrouted_where(team, channel, thread),  # an earlier message of the thread goes first
        ~_claimed_where(team, channel, ts),
    )
    columns = [
        "team_id",
        "channel_id",
        "thread_ts",
        "ts",
        "user_id",
        "text",
        "kind",
        "conversation_id",
        "state",
        "attempt",
        "attachment",
        "created_at",
        "updated_at",
    ]
    return insert(TurnRow).from_select(columns, owned)


class Claims(StoreBase):
    async def claim_hint(self, thread: ThreadKey, user_id: str, kind: str) -> bool:
        """True the first time this hint is given to this user in this thread."""
        return await self._insert(
            HintRow(
                team_id=thread.team_id,
                channel_id=thread.channel_id,
                thread_ts=thread.thread_ts,
                user_id=user_id,
                kind=kind[:32],
            )
        )

    async def claim_owned_reply(
        self,
        thread: ThreadKey,
        *,
        ts: str,
        user_id: str,
        text: str,
        attachment: Attachment | None = None,
    ) -> bool | None:
        """Queue a reply if ``user_id`` owns the thread's open conversation, in one statement.

        True when queued; False when there is no such conversation (look closer); None when
        the message was claimed before.
        """
        statement = self._cached("claim_owned_reply", _owned_reply_statement)
        now = utcnow()
        values: dict[str, object] = {"team": thread.team_id, "channel": thread.channel_id}
        values |= {"thread": thread.thread_ts, "ts": ts, "user": user_id, "text": text}
        values["attachment"] = attachment.dumps() if attachment is not None else None
        added = await self._claim(statement, values | {"now": now}, urgent=True)
        if added == 0 and await self._claimed(thread, ts):
            return None
        return None if added is None else added > 0

    async def _claimed(self, thread: ThreadKey, ts: str) -> bool:
        """Whether the message has a turn, at any attempt."""
        return bool(
            await self._scalar(select(_claimed_where(thread.team_id, thread.channel_id, ts)))
        )

    async def claim_reply(
        self,
        conversation: Conversation,
        *,
        ts: str,
        user_id: str,
        text: str,
        attachment: Attachment | None = None,
    ) -> Turn | None:
        """Queue a reply turn for an open conversation, or None if already claimed."""
        if await self._claimed(conversation.thread, ts):
            return None  # its row was queued again as a later attempt
        row = _queued(
            conversation.thread,
            ts=ts,
            user_id=user_id,
            text=text,
            conversation_id=conversation.id,
            attachment=attachment,
        )
        return Turn.of(row) if await self._insert(row) else None

    async def claim_start(
        self,
        thread: ThreadKey,
        *,
        ts: str,
        user_id: str,
        text: str,
        attachment: Attachment | None = None,
    ) -> tuple[Conversation, Turn] | None:
        """Open a conversation in ``thread`` with its first turn, in one transaction.

        None when the message was claimed before, or when the thread already
        has an open conversation (the caller then treats the message as a reply).
        """
        if await self._claimed(thread, ts):
            return None
        async with self._writing() as session:
            conversation = ConversationRow(
                team_id=thread.team_id,
                channel_id=thread.channel_id,
                thread_ts=thread.thread_ts,
                owner_user_id=user_id,
                amigo_user_id=None,
                amigo_conversation_id=None,
                state=ConversationState.STARTING,
                finished_at=None,
                finish_reason=None,
            )
            session.add(conversation)
            try:
                await session.flush()
                turn = _queued(
                    thread,
                    ts=ts,
                    user_id=user_id,
                    text=text,
                    kind=TurnKind.START,
                    conversation_id=conversation.id,
                    attachment=attachment,
                )
                session.add(turn)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                return None
            return Conversation.of(conversation), Turn.of(turn)

    async def claim_pending(
        self,
        thread: ThreadKey,
        *,
        ts: str,
        user_id: str,
        text: str,
        attachment: Attachment | None = None,
    ) -> Turn | None:
        """Hold a reply whose thread may be about to get its conversation.

        The row keeps the message's place in the thread's order; it has no
        conversation until :meth:`attach_turn`, and is dropped if none comes.
        None when the message was claimed before.
        """
        if await self._claimed(thread, ts):
            return None
        row = _queued(
            thread, ts=ts, user_id=user_id, text=text, conversation_id=None, attachment=attachment
        )
        return Turn.of(row) if await self._insert(row) else None

    async def attach_turn(self, turn_id: int, conversation_id: int) -> None:
        await self._write(
            update(TurnRow).where(TurnRow.id == turn_id).values(conversation_id=conversation_id)
        )

    async def drop_turn(self, turn_id: int) -> None:
        await self._write(delete(TurnRow).where(TurnRow.id == turn_id))

    async def claim_retry(self, turn: Turn, text: str) -> Turn | None:
        """Queue ``text`` as the next attempt of an interrupted turn's message, once;
        None when that attempt was claimed before (a second click)."""
        row = _queued(
            turn.thread,
            ts=turn.ts,
            user_id=turn.user_id,
            text=text,
            conversation_id=turn.conversation_id,
            kind=turn.kind,
            attempt=turn.attempt + 1,
            attachment=turn.attachment,
        )
        return Turn.of(row) if await self._insert(row) else None
