"""`amigo-slack run | migrate | check | manifest --url URL`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import yaml

from slackbot.config import Settings, SettingsError, load_settings
from slackbot.logs import configure_logging

log = logging.getLogger("slackbot")

EXIT_CONFIG = 2
MANIFEST = Path(__file__).resolve().parent / "manifest.yml"
"""Shipped inside the package (a link to the repository's top-level `manifest.yml`)."""


def _settings(*, require_http: bool | None = None) -> Settings:
    try:
        return load_settings(require_http=require_http)
    except SettingsError as exc:
        print(exc.report(), file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


# -- run -----------------------------------------------------------------------


async def _serve_http(settings: Settings) -> None:
    import uvicorn

    from slackbot.slack.app import Runtime
    from slackbot.web import create_web_app

    runtime = Runtime(settings)
    config = uvicorn.Config(
        create_web_app(runtime),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
    )
    log.info("HTTP mode: listening on %s:%d, POST /slack/events", settings.host, settings.port)
    # uvicorn re-raises SIGTERM once it has shut down, through whatever handler was
    # installed before it: make that a no-op so a requested, clean stop exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    await uvicorn.Server(config).serve()


async def _serve_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_sdk.errors import SlackApiError

    from slackbot.slack.app import Runtime

    assert settings.slack_app_token is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime = Runtime(settings)
    handler = AsyncSocketModeHandler(runtime.bolt, settings.slack_app_token.get_secret_value())
    # apps.connections.open errors that no retry cures: the app-level token is wrong.
    token_refused = {
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "token_revoked",
        "token_expired",
    }

    async def connect() -> str | None:
        """Connect; the error instead when Slack refuses the app-level token."""
        # slack_sdk's connect() retries every failure forever: ask for the first URL here,
        # so that a token Slack refuses ends the process with a clear message.
        try:
            handler.client.wss_uri = await handler.client.issue_new_wss_url()
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in token_refused:
                return error
            log.warning("Socket Mode: Slack answered %s; retrying", error)
        except Exception as exc:
            log.warning("Socket Mode: cannot reach Slack (%s); retrying", type(exc).__name__)
        await runtime.start()
        await handler.connect_async()  # type: ignore[no-untyped-call]
        log.info("Socket Mode: connected")
        return None

    # Connecting can take long (Slack unreachable): a signal must stop that too.
    connecting = asyncio.ensure_future(connect())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        refused = connecting.result() if connecting.done() else None
        if refused is not None:
            log.error(
                "Slack refused SLACK_APP_TOKEN (%s): it must be the app's app-level token "
                "(xapp-...) with the connections:write scope",
                refused,
            )
            raise SystemExit(EXIT_CONFIG)
        await stopping
        log.info("shutting down")
    finally:
        connecting.cancel()
        stopping.cancel()
        await handler.close_async()  # type: ignore[no-untyped-call]
        await runtime.shutdown()


def cmd_run(_: argparse.Namespace) -> int:
    settings = _settings()
    configure_logging(settings.log_level, settings.secrets())
    from slackbot.store.db import migrate_sync

    migrate_sync(settings.database_url)
    if settings.socket_mode:
        asyncio.run(_serve_socket_mode(settings))
    else:
        asyncio.run(_serve_http(settings))
    return 0


# -- migrate -------------------------------------------------------------------


def cmd_migrate(_: argparse.Namespace) -> int:
    settings = _settings(require_http=False)
    configure_logging(settings.log_level, settings.secrets())
    from slackbot.store.db import migrate_sync

    migrate_sync(settings.database_url)
    print("The database is up to date.")
    return 0


# -- check ---------------------------------------------------------------------


async def _check(settings: Settings) -> list[tuple[bool, str]]:
    from slack_sdk.errors import SlackApiError

    from slackbot.amigo.client import AmigoClient
    from slackbot.amigo.errors import AmigoError
    from slackbot.slack.web_port import web_client

    results: list[tuple[bool, str]] = []
    client = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    try:
        auth = await client.auth_test()
        results.append((True, f"Slack: signed in as {auth.get('user')} in {auth.get('team')}"))
    except SlackApiError as exc:
        results.append((False, f"Slack: auth.test failed ({exc.response.get('error')})"))
    except Exception as exc:
        results.append((False, f"Slack: cannot reach the Web API ({type(exc).__name__})"))
    amigo = AmigoClient(
        settings.amigo_base_url,
        settings.amigo_organization_id,
        settings.amigo_api_key.get_secret_value(),
        settings.amigo_api_key_id.get_secret_value(),
    )
    try:
        await amigo.get_conversations(
            settings.amigo_user_id, service_ids=[settings.amigo_service_id], limit=1
        )
        results.append((True, f"Amigo: signed in as user {settings.amigo_user_id}"))
    except AmigoError as exc:
        results.append((False, f"Amigo: {exc}"))
    finally:
        await amigo.aclose()
    return results


def cmd_check(_: argparse.Namespace) -> int:
    settings = _settings()
    configure_logging("WARNING", settings.secrets())
    mode = "Socket Mode" if settings.socket_mode else f"HTTP mode on port {settings.port}"
    print(f"ok   Settings: complete ({mode})")
    results = asyncio.run(_check(settings))
    for ok, line in results:
        print(f"{'ok  ' if ok else 'FAIL'} {line}")
    return 0 if all(ok for ok, _ in results) else 1


# -- manifest --------------------------------------------------------------------


def render_manifest(url: str | None) -> str:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    if url:
        endpoint = url.rstrip("/") + "/slack/events"
        settings = manifest["settings"]
        settings["socket_mode_enabled"] = False
        settings["event_subscriptions"]["request_url"] = endpoint
        settings["interactivity"]["request_url"] = endpoint
        for command in manifest["features"].get("slash_commands", []):
            command["url"] = endpoint
        for shortcut in manifest["features"].get("shortcuts", []):
            shortcut.setdefault("type", "message")
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)


def cmd_manifest(args: argparse.Namespace) -> int:
    url: str | None = args.url
    if url and not url.startswith("https://"):
        print("--url must be the app's public https:// address", file=sys.stderr)
        return EXIT_CONFIG
    sys.stdout.write(render_manifest(url))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amigo-slack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the app (Socket Mode if SLACK_APP_TOKEN is set)")
    commands.add_parser("migrate", help="apply pending database migrations")
    commands.add_parser("check", help="check the settings, Slack and Amigo")
    manifest = commands.add_parser("manifest", help="print manifest.yml")
    manifest.add_argument("--url", help="public https URL of the app, for HTTP mode")
    args = parser.parse_args(argv)
    handlers = {"run": cmd_run, "migrate": cmd_migrate, "check": cmd_check}
    handler = handlers.get(args.command, cmd_manifest)
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
