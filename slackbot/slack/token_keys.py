"""The keys that encrypt the installed workspaces' tokens at rest.

``SLACK_TOKEN_KEYS`` holds one or more Fernet keys, comma-separated: the first encrypts,
every one decrypts. A key is rotated by putting a new one first, running
``amigo-slack rotate-token-key`` (every stored token is encrypted again with the first
key), then dropping the old one. A database dump alone holds no token in the clear.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

NEW_KEY_HINT = (
    'make one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class UnreadableToken(Exception):
    """A stored token that none of the keys decrypts (the key that wrote it is gone)."""


def parse_keys(raw: str) -> list[Fernet]:
    """The keys of ``SLACK_TOKEN_KEYS``; ``ValueError`` saying which one is not a key
    (never showing it)."""
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts:
        raise ValueError(f"needs at least one Fernet key; {NEW_KEY_HINT}")
    keys: list[Fernet] = []
    for number, part in enumerate(parts, start=1):
        try:
            keys.append(Fernet(part.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise ValueError(
                f"key {number} is not a Fernet key (32 url-safe base64-encoded bytes); "
                + NEW_KEY_HINT
            ) from None
    return keys


class TokenCipher:
    """Encrypts with the first key, decrypts with any of them."""

    def __init__(self, raw_keys: str) -> None:
        self._keys = MultiFernet(parse_keys(raw_keys))

    def encrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        return self._keys.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str | None) -> str | None:
        if stored is None:
            return None
        try:
            return self._keys.decrypt(stored.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise UnreadableToken(
                "a stored Slack token cannot be decrypted with SLACK_TOKEN_KEYS: the key that "
                "encrypted it is not among them (add it back, after the new key)"
            ) from None

    def reencrypt(self, stored: str | None) -> str | None:
        """``stored`` encrypted again with the first key (for key rotation)."""
        if stored is None:
            return None
        try:
            return self._keys.rotate(stored.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise UnreadableToken(
                "a stored Slack token cannot be decrypted with SLACK_TOKEN_KEYS"
            ) from None
