"""The app's Slack manifest, as shipped, or set up for HTTP mode at a public address."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

MANIFEST = Path(__file__).resolve().parent / "manifest.yml"
"""Shipped inside the package (a link to the repository's top-level `manifest.yml`)."""


def _manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return loaded


def bot_scopes() -> tuple[str, ...]:
    """The bot scopes the app asks for, as the manifest lists them (the OAuth flow
    asks for the same)."""
    return tuple(_manifest()["oauth_config"]["scopes"]["bot"])


def render_manifest(url: str | None, *, oauth: bool = False) -> str:
    """The manifest; with ``url``, for HTTP mode there; with ``oauth`` too, for
    distribution: Slack sends installers back to ``/slack/oauth_redirect``, tokens
    rotate, and an Enterprise Grid org may install the app org-wide."""
    manifest = _manifest()
    if url:
        endpoint = url.rstrip("/") + "/slack/events"
        settings = manifest["settings"]
        settings["socket_mode_enabled"] = False
        settings["event_subscriptions"]["request_url"] = endpoint
        settings["interactivity"]["request_url"] = endpoint
        for command in manifest["features"].get("slash_commands", []):
            command["url"] = endpoint
        if oauth:
            redirect = url.rstrip("/") + "/slack/oauth_redirect"
            manifest["oauth_config"]["redirect_urls"] = [redirect]
            settings["token_rotation_enabled"] = True
            settings["org_deploy_enabled"] = True
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)


def public_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the app's public address, or None when it can."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return f"{url!r} is not a URL"
    if parts.scheme != "https":
        return "--url must be the app's public https:// address"
    if not host:
        return f"--url {url!r} has no host name; for example https://amigo-slack.example.com"
    if parts.query or parts.fragment or parts.username or parts.password:
        return "--url must be a plain https://host[/path] address, without ?query, #part or user"
    return None
