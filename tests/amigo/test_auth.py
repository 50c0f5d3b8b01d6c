"""Token caching: one sign-in per user, shared by concurrent callers, refreshed in time."""

from __future__ import annotations

import asyncio

import pytest

from slackbot.amigo import AmigoAuthError, AmigoClient, AmigoRateLimited
from slackbot.amigo.auth import Token, TokenCache
from slackbot.sandbox.amigo_fake import FakeAmigo


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class SignIns:
    """A scripted sign-in: counts calls; can be made to wait or fail."""

    def __init__(self, clock: Clock, lifetime: float = 3600.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls: list[str] = []
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None
        self.entered = asyncio.Event()

    async def __call__(self, user_id: str) -> Token:
        self.calls.append(user_id)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return Token(f"tok-{user_id}-{len(self.calls)}", self.clock() + self.lifetime)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sign_ins(clock: Clock) -> SignIns:
    return SignIns(clock)


async def test_token_is_reused(clock: Clock, sign_ins: SignIns) -> None:
    cache = TokenCache(sign_ins, clock=clock)
    tokens = {await cache.get("u1") for _ in range(5)}
    assert tokens == {"tok-u1-1"}
    assert sign_ins.calls == ["u1"]


async def test_users_have_their_own_tokens(clock: Clock, sign_ins: SignIns) -> None:
    cache = TokenCache(sign_ins, clock=clock)
    assert await cache.get("u1") != await cache.get("u2")
    assert sign_ins.calls == ["u1", "u2"]


async def test_concurrent_callers_share_one_sign_in(clock: Clock, sign_ins: SignIns) -> None:
    sign_ins.gate = asyncio.Event()
    cache = TokenCache(sign_ins, clock=clock)
    waiting = [asyncio.create_task(cache.get("u1")) for _ in range(10)]
    await sign_ins.entered.wait()  # the ten tasks started before the sign-in did
    assert sign_ins.calls == ["u1"]
    sign_ins.gate.set()
    assert set(await asyncio.gather(*waiting)) == {"tok-u1-1"}
    assert sign_ins.calls == ["u1"]


async def test_a_failed_sign_in_reaches_every_waiter_once(clock: Clock, sign_ins: SignIns) -> None:
    sign_ins.gate = asyncio.Event()
    sign_ins.fail = RuntimeError("amigo down")
    cache = TokenCache(sign_ins, clock=clock)
    waiting = [asyncio.create_task(cache.get("u1")) for _ in range(4)]
    await sign_ins.entered.wait()
    sign_ins.gate.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert sign_ins.calls == ["u1"]
    sign_ins.fail = None
    assert await cache.get("u1") == "tok-u1-2"


async def test_one_caller_giving_up_does_not_cancel_the_sign_in(
    clock: Clock, sign_ins: SignIns
) -> None:
    sign_ins.gate = asyncio.Event()
    cache = TokenCache(sign_ins, clock=clock)
    quitter = asyncio.create_task(cache.get("u1"))
    stayer = asyncio.create_task(cache.get("u1"))
    await sign_ins.entered.wait()
    quitter.cancel()
    sign_ins.gate.set()
    assert await stayer == "tok-u1-1"
    assert sign_ins.calls == ["u1"]


async def test_refreshed_before_expiry(clock: Clock, sign_ins: SignIns) -> None:
    cache = TokenCache(sign_ins, refresh_margin=60, clock=clock)
    assert await cache.get("u1") == "tok-u1-1"
    clock.now += 3600 - 61
    assert await cache.get("u1") == "tok-u1-1"
    clock.now += 2  # now inside the margin
    assert await cache.get("u1") == "tok-u1-2"


async def test_short_lived_token_still_reused_for_a_while(clock: Clock, sign_ins: SignIns) -> None:
    sign_ins.lifetime = 5  # shorter than the margin, or a skewed clock
    cache = TokenCache(sign_ins, refresh_margin=60, min_reuse=10, clock=clock)
    await cache.get("u1")
    clock.now += 9
    await cache.get("u1")
    assert len(sign_ins.calls) == 1
    clock.now += 2
    await cache.get("u1")
    assert len(sign_ins.calls) == 2


async def test_invalidate_only_the_rejected_token(clock: Clock, sign_ins: SignIns) -> None:
    cache = TokenCache(sign_ins, clock=clock)
    old = await cache.get("u1")
    cache.invalidate("u1", old)
    new = await cache.get("u1")
    assert new != old
    cache.invalidate("u1", old)  # a late 401 for the old token
    assert await cache.get("u1") == new
    cache.invalidate("u1")
    assert cache.cached("u1") is None
    assert len(sign_ins.calls) == 2
    cache.invalidate("nobody")


def test_token_repr_hides_the_value() -> None:
    assert "secret-value" not in repr(Token("secret-value", 1.0))


# -- against the fake ------------------------------------------------------


async def test_one_sign_in_for_many_calls(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    for _ in range(5):
        await client.get_conversations(user)
    assert len(fake.calls_named("signin")) == 1


async def test_ten_concurrent_first_calls_sign_in_once(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    await asyncio.gather(*(client.get_conversations(user) for _ in range(10)))
    signins = fake.calls_named("signin")
    assert len(signins) == 1
    assert signins[0].headers["x-user-id"] == user
    assert len(fake.calls_named("get_conversations")) == 10


async def test_client_refreshes_near_expiry(fake: FakeAmigo, user: str) -> None:
    clock = Clock(__import__("time").time())
    fake.token_lifetime = 600
    async with AmigoClient(
        fake.url, fake.organization_id, fake.api_key, fake.api_key_id, clock=clock
    ) as client:
        await client.get_conversations(user)
        clock.now += 600 - 120
        await client.get_conversations(user)
        assert len(fake.calls_named("signin")) == 1
        clock.now += 70  # 50 s left: inside the 60 s margin
        await client.get_conversations(user)
        assert len(fake.calls_named("signin")) == 2


async def test_401_signs_in_again_and_retries_once(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    await client.get_conversations(user)
    fake.fail_next("get_conversations", status=401)
    page = await client.get_conversations(user)
    assert page.conversations == []
    assert [c.status for c in fake.calls_named("get_conversations")] == [200, 401, 200]
    assert len(fake.calls_named("signin")) == 2
    first, second = (c.headers["authorization"] for c in fake.calls_named("get_conversations")[1:])
    assert first != second


async def test_revoked_token_is_replaced_transparently(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    await client.get_conversations(user)
    fake.revoke_tokens(user)
    await asyncio.gather(*(client.get_conversations(user) for _ in range(5)))
    assert len(fake.calls_named("signin")) == 2


async def test_second_401_is_raised(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    fake.fail_next("get_conversations", status=401, times=2)
    with pytest.raises(AmigoAuthError) as caught:
        await client.get_conversations(user)
    assert caught.value.status == 401
    assert len(fake.calls_named("get_conversations")) == 2
    assert len(fake.calls_named("signin")) == 2


async def test_wrong_api_key_is_an_auth_error_without_retry(fake: FakeAmigo, user: str) -> None:
    async with AmigoClient(fake.url, fake.organization_id, "wrong", fake.api_key_id) as client:
        with pytest.raises(AmigoAuthError) as caught:
            await client.get_conversations(user)
    assert caught.value.operation == "signin"
    assert len(fake.calls_named("signin")) == 1
    assert fake.calls_named("get_conversations") == []


async def test_unknown_user_cannot_sign_in(fake: FakeAmigo, client: AmigoClient) -> None:
    with pytest.raises(AmigoAuthError):
        await client.get_conversations("0123456789abcdef01234567")


async def test_sign_in_rate_limit_is_typed(fake: FakeAmigo, client: AmigoClient, user: str) -> None:
    fake.fail_next("signin", status=429, retry_after=12)
    with pytest.raises(AmigoRateLimited) as caught:
        await client.get_conversations(user)
    assert caught.value.retry_after == 12.0
    await client.get_conversations(user)
    assert len(fake.calls_named("signin")) == 2


async def test_fake_limits_sign_ins_like_amigo(
    fake: FakeAmigo, client: AmigoClient, user: str
) -> None:
    for _ in range(5):
        await client.get_conversations(user)
        client.tokens.invalidate(user)
    with pytest.raises(AmigoRateLimited) as caught:
        await client.get_conversations(user)
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60
