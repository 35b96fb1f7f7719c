# ruff: noqa: F811 - the fixtures imported below are redefined as test arguments, as pytest intends
"""One contract for every bus backend (memory and Redis), plus what only Redis can do wrong: drop.

Every wait is bounded: a bus that hangs fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from server.adapters.bus import Bus, BusItem, BusReset, BusUnavailable, MemoryBus, make_bus
from server.adapters.bus.redis import RedisBus
from tests.fixtures.bus import (  # noqa: F401 - fixtures (until tests/conftest.py imports them)
    BusMaker,
    PrivateRedis,
    bus,
    bus_channel_prefix,
    bus_maker,
    private_redis,
    redis_bus_maker,
)
from tests.fixtures.services import REDIS_URL

pytestmark = pytest.mark.anyio

WAIT = 5.0  # seconds: generous for a loaded CI machine, short enough to notice a hang


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


async def next_item(sub: object, within: float = WAIT) -> BusItem:
    return await asyncio.wait_for(sub.get(), within)  # type: ignore[attr-defined]


async def take(sub: object, count: int, within: float = WAIT) -> list[BusItem]:
    async def collect() -> list[BusItem]:
        return [await sub.get() for _ in range(count)]  # type: ignore[attr-defined]

    return await asyncio.wait_for(collect(), within)


async def nothing_arrives(sub: object, within: float = 0.2) -> bool:
    try:
        await asyncio.wait_for(sub.get(), within)  # type: ignore[attr-defined]
    except TimeoutError:
        return True
    return False


async def redis_numsub(channel: str, url: str = REDIS_URL) -> int:
    client = Redis.from_url(url)
    try:
        [(_, count)] = await client.pubsub_numsub(channel)
        return int(count)
    finally:
        await client.aclose()


# -- the contract, on every backend ---------------------------------------------------------


async def test_a_message_reaches_every_subscriber_of_its_topic_and_no_other(bus: Bus) -> None:
    async with bus.subscribe("event:1:public") as first, bus.subscribe("event:1:public") as second:
        async with bus.subscribe("event:2:public") as other:
            await bus.publish("event:1:public", '{"type":"question.asked","seq":1}')
            assert await next_item(first) == '{"type":"question.asked","seq":1}'
            assert await next_item(second) == '{"type":"question.asked","seq":1}'
            assert await nothing_arrives(other)


async def test_a_message_published_right_after_subscribing_is_received(bus: Bus) -> None:
    # The register pattern (subscribe, then load the snapshot) depends on this.
    for attempt in range(20):
        async with bus.subscribe(f"topic-{attempt}") as sub:
            await bus.publish(f"topic-{attempt}", "first")
            assert await next_item(sub) == "first"


async def test_order_is_preserved_for_one_publisher(bus: Bus) -> None:
    messages = [f'{{"seq":{n}}}' for n in range(1000)]
    async with bus.subscribe("ordered") as sub:
        for message in messages:
            await bus.publish("ordered", message)
        assert await take(sub, len(messages)) == messages


async def test_text_round_trips_unchanged(bus: Bus) -> None:
    text = '{"title":"Séance plénière — Q&A ✓","body":"' + "x" * 300 + '"}'
    async with bus.subscribe("unicode") as sub:
        await bus.publish("unicode", text)
        assert await next_item(sub) == text


async def test_publishing_without_subscribers_is_fine(bus: Bus) -> None:
    await asyncio.wait_for(bus.publish("nobody-listens", "x"), WAIT)


async def test_a_left_subscription_gets_nothing_and_leaks_nothing(bus: Bus, bus_channel_prefix: str) -> None:
    async with bus.subscribe("leaving") as staying:
        async with bus.subscribe("leaving") as leaving:
            assert bus.subscriber_count("leaving") == 2
        assert bus.subscriber_count("leaving") == 1
        await bus.publish("leaving", "after")
        assert await next_item(staying) == "after"
        assert len(leaving.inbox) == 0
        with pytest.raises(StopAsyncIteration):
            await next_item(leaving)
        if isinstance(bus, RedisBus):
            assert await redis_numsub(bus_channel_prefix + "leaving") == 1  # one per process, not per subscriber
    assert bus.subscriber_count("leaving") == 0
    if isinstance(bus, RedisBus):
        assert await redis_numsub(bus_channel_prefix + "leaving") == 0
        assert not bus._acks and not bus._subscribed and not bus._subs


async def test_a_subscription_can_be_resubscribed_after_the_last_one_left(bus: Bus) -> None:
    for round_ in range(3):
        async with bus.subscribe("again") as sub:
            await bus.publish("again", f"round {round_}")
            assert await next_item(sub) == f"round {round_}"


async def test_a_slow_subscriber_does_not_block_publish_or_the_others(bus: Bus) -> None:
    count = 2_000
    async with bus.subscribe("busy", max_queue=10) as slow, bus.subscribe("busy") as fast:
        started = time.monotonic()
        for n in range(count):
            await asyncio.wait_for(bus.publish("busy", str(n)), WAIT)
        publish_seconds = time.monotonic() - started
        # The fast one gets everything, in order, although the slow one never read.
        assert await take(fast, count) == [str(n) for n in range(count)]

        # The slow one overflowed: one reset, then a contiguous tail of what followed, then new messages.
        first = await next_item(slow)
        assert isinstance(first, BusReset) and first.reason == "overflow"
        await bus.publish("busy", "new")
        assert await next_item(fast) == "new"
        rest = []
        while (item := await next_item(slow)) != "new":
            rest.append(item)
        assert len(rest) < 10
        assert rest == [str(n) for n in range(count - len(rest), count)]
        assert slow.inbox.overflows >= count // 10 - 1
    assert publish_seconds < 10


async def test_one_overflow_leaves_a_single_reset_however_far_behind(bus: Bus) -> None:
    async with bus.subscribe("flood", max_queue=5) as slow, bus.subscribe("flood") as witness:
        for n in range(100):
            await bus.publish("flood", str(n))
        await take(witness, 100)  # everything has been delivered (Redis is asynchronous)
        assert isinstance(await next_item(slow), BusReset)
        await bus.publish("flood", "end")
        items = []
        while (item := await next_item(slow)) != "end":
            items.append(item)
        assert items == ["96", "97", "98", "99"]


async def test_closing_the_bus_ends_every_subscription(bus_maker: BusMaker) -> None:
    bus = await bus_maker()
    async with bus.subscribe("closing") as sub:

        async def read_all() -> list[BusItem]:
            return [item async for item in sub]

        reader = asyncio.create_task(read_all())
        await bus.publish("closing", "last")
        await asyncio.sleep(0.1)
        await asyncio.wait_for(bus.close(), WAIT)
        assert await asyncio.wait_for(reader, WAIT) == ["last"]
    assert not await bus.healthy()
    with pytest.raises(RuntimeError):
        await bus.publish("closing", "too late")


async def test_a_running_bus_is_healthy(bus: Bus) -> None:
    assert await asyncio.wait_for(bus.healthy(), WAIT)


async def test_a_subscription_is_entered_once_and_read_only_when_entered(bus: Bus) -> None:
    sub = bus.subscribe("states")
    with pytest.raises(RuntimeError):
        await sub.get()
    async with sub:
        pass
    with pytest.raises(RuntimeError):
        async with sub:
            pass


async def test_an_unstarted_bus_refuses_to_publish(bus_maker: BusMaker) -> None:
    bus = MemoryBus() if bus_maker.kind == "memory" else RedisBus(bus_maker.url)
    with pytest.raises(RuntimeError, match="not started"):
        await bus.publish("x", "y")
    assert not await bus.healthy()


def test_make_bus_picks_the_backend_from_the_url() -> None:
    assert isinstance(make_bus(""), MemoryBus)
    redis_bus = make_bus("redis://127.0.0.1:6379/0", channel_prefix="p:")
    assert isinstance(redis_bus, RedisBus) and redis_bus.channel_prefix == "p:"
    assert isinstance(make_bus(""), Bus) and isinstance(redis_bus, Bus)


# -- Redis only: several processes, and failures -------------------------------------------


async def test_two_processes_see_each_others_messages(redis_bus_maker: BusMaker) -> None:
    one, two = await redis_bus_maker(), await redis_bus_maker()
    async with one.subscribe("shared") as on_one, two.subscribe("shared") as on_two:
        await one.publish("shared", "from one")
        await two.publish("shared", "from two")
        assert await take(on_one, 2) == ["from one", "from two"]
        assert await take(on_two, 2) == ["from one", "from two"]


async def test_buses_with_different_prefixes_do_not_hear_each_other(redis_bus_maker: BusMaker) -> None:
    ours = await redis_bus_maker()
    theirs = RedisBus(REDIS_URL, channel_prefix=redis_bus_maker.channel_prefix + "other:")
    await theirs.start()
    try:
        async with ours.subscribe("topic") as sub:
            await theirs.publish("topic", "not for us")
            await ours.publish("topic", "for us")
            assert await next_item(sub) == "for us"
    finally:
        await theirs.close()


async def test_redis_going_down_raises_on_publish_and_resets_subscribers_when_back(
    private_redis: PrivateRedis, bus_channel_prefix: str
) -> None:
    bus = RedisBus(private_redis.url, channel_prefix=bus_channel_prefix, connect_timeout=1.0, command_timeout=1.0)
    await asyncio.wait_for(bus.start(), WAIT)
    try:
        async with bus.subscribe("live") as sub:
            await bus.publish("live", "before")
            assert await next_item(sub) == "before"

            private_redis.kill()
            with pytest.raises(BusUnavailable):
                await asyncio.wait_for(bus.publish("live", "lost"), WAIT)
            with pytest.raises(BusUnavailable):  # and again, without waiting for a timeout
                await asyncio.wait_for(bus.publish("live", "lost"), 0.5)
            assert not await asyncio.wait_for(bus.healthy(), WAIT)

            # A subscription made while Redis is down is registered and caught up later.
            async with bus.subscribe("live") as late:
                down_for = time.monotonic()
                await private_redis.start()
                assert isinstance(await next_item(sub, 10), BusReset)
                assert isinstance(await next_item(late, 10), BusReset)
                recovered_in = time.monotonic() - down_for
                assert await bus.healthy()
                await bus.publish("live", "after")
                assert await next_item(sub) == "after"
                assert await next_item(late) == "after"
            assert bus.reconnects == 1
            assert recovered_in < 10
    finally:
        await asyncio.wait_for(bus.close(), WAIT)


async def test_a_redis_that_stops_answering_is_noticed_by_ping(
    private_redis: PrivateRedis, bus_channel_prefix: str
) -> None:
    bus = RedisBus(
        private_redis.url,
        channel_prefix=bus_channel_prefix,
        ping_interval=0.2,
        connect_timeout=0.5,
        command_timeout=0.5,
    )
    await asyncio.wait_for(bus.start(), WAIT)
    try:
        async with bus.subscribe("frozen") as sub:
            private_redis.freeze()  # the TCP connection stays open: only the PING can tell
            try:
                for _ in range(100):  # up to 5 s
                    if not bus._up.is_set():
                        break
                    await asyncio.sleep(0.05)
                assert not await bus.healthy()
                with pytest.raises(BusUnavailable):  # a publish times out instead of hanging
                    await asyncio.wait_for(bus.publish("frozen", "lost"), WAIT)
            finally:
                private_redis.resume()
            assert isinstance(await next_item(sub, 10), BusReset)
            await bus.publish("frozen", "thawed")
            assert await next_item(sub) == "thawed"
    finally:
        await asyncio.wait_for(bus.close(), WAIT)


async def test_a_bus_started_before_redis_connects_when_it_comes(
    private_redis: PrivateRedis, bus_channel_prefix: str
) -> None:
    private_redis.kill()
    bus = RedisBus(private_redis.url, channel_prefix=bus_channel_prefix, connect_timeout=0.5)
    started = time.monotonic()
    await asyncio.wait_for(bus.start(), WAIT)  # does not raise: the server may come up before Redis
    assert time.monotonic() - started < 2
    try:
        assert not await bus.healthy()
        async with bus.subscribe("early") as sub:
            await private_redis.start()
            assert isinstance(await next_item(sub, 10), BusReset)
            await bus.publish("early", "hello")
            assert await next_item(sub) == "hello"
    finally:
        await asyncio.wait_for(bus.close(), WAIT)
