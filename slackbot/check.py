"""`amigo-slack check`: whether Slack and Amigo accept the settings, without running."""

from __future__ import annotations

import socket

from slackbot.config import Settings


def unreachable_reason(exc: BaseException) -> str:
    """Why a request got no answer, in a few words (for `check` and logs)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain) or "name or service" in text:
        return "the host name cannot be resolved"
    if any(isinstance(e, TimeoutError) for e in chain) or "timed out" in text:
        return "no answer in time"
    if "ssl" in text or "certificate" in text:
        return "the TLS handshake failed"
    return type(chain[-1]).__name__


async def check(settings: Settings) -> list[tuple[bool, str]]:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    from slackbot.amigo.client import AmigoClient
    from slackbot.amigo.errors import AmigoError, AmigoTransportError
    from slackbot.slack.web_client import web_client

    results: list[tuple[bool, str]] = []
    api = settings.slack_api_url
    if settings.slack_bot_token is None:
        results.append((True, "Slack: workspaces install the app through /slack/install"))
    else:
        client = web_client(settings.slack_bot_token.get_secret_value(), api)
        try:
            auth = await client.auth_test()
            signed_in = f"Slack: signed in as {auth.get('user')} in {auth.get('team')}"
            results.append((True, signed_in))
        except SlackApiError as exc:
            error = exc.response.get("error")
            results.append((False, f"Slack: SLACK_BOT_TOKEN was refused by auth.test ({error})"))
        except Exception as exc:
            results.append((False, f"Slack: cannot reach {api} ({unreachable_reason(exc)})"))
    if settings.slack_app_token is not None:
        app_client = AsyncWebClient(base_url=api, timeout=30)
        token = settings.slack_app_token.get_secret_value()
        try:
            await app_client.apps_connections_open(app_token=token)
            results.append((True, "Slack: SLACK_APP_TOKEN opens Socket Mode connections"))
        except SlackApiError as exc:
            error = exc.response.get("error")
            results.append(
                (
                    False,
                    f"Slack: SLACK_APP_TOKEN was refused by apps.connections.open ({error}); "
                    "it must be the app-level token (xapp-...) with connections:write",
                )
            )
        except Exception as exc:
            results.append((False, f"Slack: cannot reach {api} ({unreachable_reason(exc)})"))
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
    except AmigoTransportError as exc:
        where = settings.amigo_base_url
        results.append((False, f"Amigo: cannot reach {where} ({unreachable_reason(exc)})"))
    except AmigoError as exc:
        results.append((False, f"Amigo: {exc}"))
    finally:
        await amigo.aclose()
    return results
