"""Block Kit for the conversation controls: the reply menu, suggested-reply buttons and
the Retry button.

Built with slack_sdk's Block Kit models, which check Slack's limits. Action ids
and values defined here are what the Slack layer's listeners listen for.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextActionsBlock,
    ContextBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    SectionBlock,
)

from slackbot.ui import messages

Blocks = list[dict[str, Any]]

log = logging.getLogger("slackbot.blocks")

REPLY_MENU_ACTION: Final = "amigo_reply_menu"
MENU_SUGGEST: Final = "suggest"
MENU_FINISH: Final = "finish"
MENU_TAGS: Final = "tags"
SUGGESTION_ACTION_PREFIX: Final = "amigo_suggestion_"
SHORTCUT_FINISH: Final = "amigo_finish"
SHORTCUT_SUGGEST: Final = "amigo_suggest"
SHORTCUT_WHY: Final = "amigo_why"
RETRY_ACTION: Final = "amigo_retry"
RETRY_BLOCK: Final = "amigo_retry_block"
MAX_SUGGESTIONS: Final = 5

_LABEL_LIMIT: Final = int(ButtonElement.text_max_length)
_VALUE_LIMIT: Final = int(ButtonElement.value_max_length)


def _dicts(blocks: list[Block]) -> Blocks:
    return [block.to_dict() for block in blocks]


def reply_menu(*, suggestions: bool) -> Blocks:
    """The ⋯ menu under an agent reply."""
    options = [Option(value=MENU_SUGGEST, text="Suggest replies")] if suggestions else []
    options += [
        Option(value=MENU_FINISH, text="Finish conversation"),
        Option(value=MENU_TAGS, text="Show tags"),
    ]
    menu = OverflowMenuElement(action_id=REPLY_MENU_ACTION, options=options)
    return _dicts([ActionsBlock(block_id="amigo_reply_menu", elements=[menu])])


def label(text: str) -> str:
    """A button label: one line, within Slack's limit."""
    flat = " ".join(text.split()) or "…"
    return flat if len(flat) <= _LABEL_LIMIT else flat[: _LABEL_LIMIT - 1] + "…"


def suggestion_value(interaction_id: str, text: str) -> str | None:
    """What a button carries: the interaction it answers and the full text (None: too long)."""
    value = json.dumps({"i": interaction_id, "t": text}, ensure_ascii=False)
    return value if len(value) <= _VALUE_LIMIT else None


def parse_suggestion_value(value: object) -> tuple[str, str] | None:
    """(interaction id, text) from a button's value, or None if it is not ours."""
    if not isinstance(value, str):
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    interaction_id, text = data.get("i"), data.get("t")
    if isinstance(interaction_id, str) and isinstance(text, str) and text.strip():
        return interaction_id, text
    return None


def suggestions(owner_user_id: str, interaction_id: str, texts: list[str]) -> Blocks:
    """Up to five buttons, each carrying its suggestion's full text."""
    buttons: list[ButtonElement] = []
    for text in texts:
        value = suggestion_value(interaction_id, text)
        if value is None:
            log.warning("a suggested reply of %d characters is too long for a button", len(text))
            continue
        action_id = f"{SUGGESTION_ACTION_PREFIX}{len(buttons)}"
        buttons.append(ButtonElement(text=label(text), action_id=action_id, value=value))
        if len(buttons) == MAX_SUGGESTIONS:
            break
    if not buttons:
        return []
    intro = SectionBlock(text=MarkdownTextObject(text=messages.suggestions_intro(owner_user_id)))
    return _dicts([intro, ActionsBlock(block_id="amigo_suggestions", elements=buttons)])


def suggestion_chosen(chooser_user_id: str, text: str) -> Blocks:
    """What replaces the buttons once one was clicked."""
    note = MarkdownTextObject(text=messages.suggestion_chosen_note(chooser_user_id, text))
    return _dicts([ContextBlock(elements=[note])])


FEEDBACK_ACTION: Final = "amigo_feedback"
FEEDBACK_BLOCK: Final = "amigo_feedback_block"
FEEDBACK_VIEW: Final = "amigo_feedback_comment"
FEEDBACK_INPUT: Final = "amigo_feedback_text"


def feedback(turn_id: int) -> Blocks:
    """Slack's own thumbs up and down under a reply; a value names vote and reply."""
    buttons = FeedbackButtonsElement(
        action_id=FEEDBACK_ACTION,
        positive_button=FeedbackButtonObject(
            text="Good answer", accessibility_label="This answer helped", value=f"up:{turn_id}"
        ),
        negative_button=FeedbackButtonObject(
            text="Bad answer",
            accessibility_label="This answer did not help",
            value=f"down:{turn_id}",
        ),
    )
    return _dicts([ContextActionsBlock(block_id=FEEDBACK_BLOCK, elements=[buttons])])


def parse_feedback_value(value: str | None) -> tuple[str, int] | None:
    """(``up`` or ``down``, the reply's turn id) from a feedback button's value."""
    vote, _, turn = (value or "").partition(":")
    if vote not in ("up", "down") or not turn.isdigit():
        return None
    return vote, int(turn)


def feedback_modal(turn_id: int) -> dict[str, Any]:
    """After a thumbs down: what went wrong, in a few words (optional)."""
    return {
        "type": "modal",
        "callback_id": FEEDBACK_VIEW,
        "private_metadata": str(turn_id),
        "title": {"type": "plain_text", "text": "What went wrong?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Skip"},
        "blocks": [
            {
                "type": "input",
                "block_id": FEEDBACK_INPUT,
                "label": {"type": "plain_text", "text": messages.FEEDBACK_QUESTION},
                "element": {
                    "type": "plain_text_input",
                    "action_id": FEEDBACK_INPUT,
                    "multiline": True,
                    "max_length": messages.FEEDBACK_MAX_CHARS,
                },
            }
        ],
    }


def retry(turn_id: int) -> Blocks:
    """The button under an interrupted reply that sends its message once more."""
    button = ButtonElement(
        text=messages.RETRY_BUTTON, action_id=RETRY_ACTION, value=str(turn_id), style="primary"
    )
    return _dicts([ActionsBlock(block_id=RETRY_BLOCK, elements=[button])])


def retry_queued(message_blocks: Blocks) -> Blocks:
    """A reply's blocks once its Retry was pressed: the button becomes a note."""
    kept = [b for b in message_blocks if b.get("block_id") != RETRY_BLOCK]
    note = ContextBlock(elements=[MarkdownTextObject(text=messages.RETRY_QUEUED)])
    return [*kept, note.to_dict()]
