"""`amigo-slack run | migrate | check | manifest --url URL [--oauth] | rotate-token-key | try`.

Every way start-up can fail ends in one plain sentence on stderr and exit status 2:
a setting that is missing or malformed, a database that cannot be opened, a port
that is taken, a token Slack refuses.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import socket
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from importlib.metadata import version
from typing import TYPE_CHECKING

from slackbot.config import (
    DatabaseSettings,
    Settings,
    SettingsError,
    load_database_settings,
    load_settings,
)
from slackbot.logs import configure_logging

if TYPE_CHECKING:
    from slackbot.runtime import Runtime

Build = Callable[[Settings], "Runtime"]
"""Builds the app from its settings."""

log = logging.getLogger("slackbot")

EXIT_CONFIG = 2


class StartupError(Exception):
    """Start-up cannot go on; the message tells the admin what to fix."""


def _stop(message: str) -> SystemExit:
    print(f"amigo-slack cannot start: {message}", file=sys.stderr)
    return SystemExit(EXIT_CONFIG)


def _settings(*, require_http: bool | None = None) -> Settings:
    try:
        return load_settings(require_http=require_http)
    except SettingsError as exc:
        print(exc.report(), file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def _migrate(settings: DatabaseSettings) -> None:
    """Bring the database up to date, and say which one it is."""
    from slackbot.store.db import DatabaseUnavailable, describe, head_revision, migrate_sync

    try:
        migrate_sync(settings.database_url)
    except DatabaseUnavailable as exc:
        raise StartupError(str(exc)) from None
    log.info("database: %s, schema %s", describe(settings.database_url), head_revision())


# -- run -----------------------------------------------------------------------


def _listen(host: str, port: int) -> socket.socket:
    """Bind the HTTP port before anything starts, so a taken port is a clear stop."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use by another program: "
                "stop it, or set PORT to a free port"
            ) from None
        if exc.errno == errno.EACCES:
            raise StartupError(
                f"not allowed to listen on port {port}: ports below 1024 need privileges; "
                "set PORT to 1024 or above"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port} (HOST, PORT): {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def _serve_http(settings: Settings, build: Build) -> None:
    import uvicorn

    from slackbot.web import create_web_app

    sock = _listen(settings.host, settings.port)
    runtime = build(settings)
    try:
        await _introduce(runtime)
    except BaseException:
        await runtime.shutdown()
        sock.close()
        raise
    config = uvicorn.Config(
        create_web_app(runtime),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
    )
    log.info(
        "HTTP mode: listening on http://%s:%d; Slack posts to /slack/events",
        settings.host,
        settings.port,
    )
    # uvicorn re-raises SIGTERM once it has shut down, through whatever handler was
    # installed before it: make that a no-op so a requested, clean stop exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    await uvicorn.Server(config).serve(sockets=[sock])


async def _introduce(runtime: Runtime) -> None:
    """Ask Slack who the bot is: log the workspace, or stop if Slack refuses the token
    (with OAuth: or if the installed workspaces' tokens cannot be decrypted)."""
    if runtime.installations is not None:
        problem = await runtime.installations.key_problem()
        if problem is not None:
            raise StartupError(problem)
    refused = await runtime.introduce()
    if refused is not None:
        raise StartupError(
            f"Slack refused SLACK_BOT_TOKEN ({refused}): copy the Bot User OAuth Token "
            "(xoxb-...) from the app's OAuth & Permissions page"
        )


async def _serve_socket_mode(settings: Settings, build: Build) -> None:
    from slackbot.slack import socket_mode
    from slackbot.web import operator_server

    assert settings.slack_app_token is not None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        sock: socket.socket | None = _listen(settings.host, settings.port)
    except StartupError as exc:
        # Slack needs no port in Socket Mode: without one the app still runs, unwatched.
        log.warning("no /healthz or /metrics: %s", exc)
        sock = None
    runtime = build(settings)

    async def start() -> None:
        await _introduce(runtime)
        await runtime.start()

    try:
        async with AsyncExitStack() as serving:
            if sock is not None:
                await serving.enter_async_context(operator_server(runtime, sock))
                log.info("/healthz and /metrics on http://%s:%d", settings.host, settings.port)
            refused = await socket_mode.serve(
                runtime.slack.bolt, settings.slack_app_token.get_secret_value(), start, stop
            )
    finally:
        await runtime.shutdown()
    if refused is not None:
        raise StartupError(
            f"Slack refused SLACK_APP_TOKEN ({refused}): it must be the app's "
            "app-level token (xapp-...) with the connections:write scope"
        )


def cmd_run(_: argparse.Namespace) -> int:
    from slackbot.runtime import Runtime

    return run(Runtime)


def run(build: Build) -> int:
    """`amigo-slack run`, with the app built by ``build`` (the benchmark passes its own)."""
    settings = _settings()
    configure_logging(settings.log_level, settings.secrets())
    log.info("amigo-slack %s", version("amigo-slack"))
    try:
        _migrate(settings)
        serve = _serve_socket_mode if settings.socket_mode else _serve_http
        asyncio.run(serve(settings, build))
    except StartupError as exc:
        raise _stop(str(exc)) from None
    return 0


# -- migrate -------------------------------------------------------------------


def cmd_migrate(_: argparse.Namespace) -> int:
    try:
        settings = load_database_settings()
    except SettingsError as exc:
        print(exc.report(), file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.secrets())
    try:
        _migrate(settings)
    except StartupError as exc:
        raise _stop(str(exc)) from None
    print("The database is up to date.")
    return 0


# -- check ---------------------------------------------------------------------


def cmd_check(_: argparse.Namespace) -> int:
    settings = _settings()
    configure_logging("WARNING", settings.secrets())
    mode = "Socket Mode" if settings.socket_mode else f"HTTP mode on port {settings.port}"
    print(f"ok   Settings: complete, checked for {mode}")
    from slackbot.check import check

    results = asyncio.run(check(settings))
    for ok, line in results:
        print(f"{'ok  ' if ok else 'FAIL'} {line}")
    return 0 if all(ok for ok, _ in results) else 1


def cmd_manifest(args: argparse.Namespace) -> int:
    from slackbot.manifest import public_url_problem, render_manifest

    url: str | None = args.url
    problem = public_url_problem(url) if url is not None else None
    if args.oauth and url is None:
        problem = "--oauth needs --url: Slack sends installers back to the app's public address"
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_CONFIG
    sys.stdout.write(render_manifest(url, oauth=args.oauth))
    return 0


def cmd_rotate_token_key(_: argparse.Namespace) -> int:
    """Encrypt every stored token again with the first of SLACK_TOKEN_KEYS."""
    from slackbot.installing import oauth_config
    from slackbot.slack.token_keys import TokenCipher, UnreadableToken
    from slackbot.store.db import create_engine
    from slackbot.store.installs import Installs

    settings = _settings(require_http=False)
    configure_logging(settings.log_level, settings.secrets())
    if not settings.oauth:
        raise _stop("rotate-token-key is for OAuth installs: SLACK_CLIENT_ID is not set")
    config = oauth_config(settings)

    async def rotate() -> int:
        engine = create_engine(settings.database_url)
        try:
            cipher = TokenCipher(config.token_keys)
            return await Installs(engine, config.client_id).reencrypt(cipher.reencrypt)
        finally:
            await engine.dispose()

    try:
        _migrate(settings)
        rows = asyncio.run(rotate())
    except (StartupError, UnreadableToken) as exc:
        raise _stop(str(exc)) from None
    print(f"Encrypted the tokens of {rows} install row(s) with the first key of SLACK_TOKEN_KEYS.")
    return 0


# -- try ------------------------------------------------------------------------


def cmd_try(args: argparse.Namespace) -> int:
    # The one command that runs the sandbox: a terminal in place of Slack, and a fake
    # Amigo unless AMIGO_* settings are given. `run` never imports the sandbox.
    from slackbot.sandbox.trial import main as trial

    return trial(database_url=args.database_url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="amigo-slack", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the app (Socket Mode if SLACK_APP_TOKEN is set)")
    commands.add_parser("migrate", help="apply pending database migrations")
    commands.add_parser("check", help="check the settings, Slack and Amigo")
    manifest = commands.add_parser("manifest", help="print manifest.yml")
    manifest.add_argument("--url", help="public https URL of the app, for HTTP mode")
    manifest.add_argument(
        "--oauth", action="store_true", help="for distribution: OAuth redirect, token rotation"
    )
    commands.add_parser(
        "rotate-token-key", help="encrypt the stored tokens again with the first SLACK_TOKEN_KEYS"
    )
    trial = commands.add_parser(
        "try", help="chat with the app in this terminal: no Slack (or Amigo) account needed"
    )
    trial.add_argument(
        "--database-url", help="keep the conversations in this database (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    handlers = {
        "run": cmd_run,
        "migrate": cmd_migrate,
        "check": cmd_check,
        "try": cmd_try,
        "rotate-token-key": cmd_rotate_token_key,
    }
    handler = handlers.get(args.command, cmd_manifest)
    return handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
