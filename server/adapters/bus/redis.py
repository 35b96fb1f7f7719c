"""The production bus: Redis pub/sub shared by every server replica.

One listener connection per process carries every topic this process listens to (SUBSCRIBE on the
first local subscriber, UNSUBSCRIBE after the last), and one reader task dispatches each message
to the local subscriptions' bounded inboxes. Publishing goes through an ordinary client pool, so a
busy listener never delays a publish.

What encode/broadcaster gets wrong and this fixes: when Redis goes away (restart, failover, or
Redis itself disconnecting a subscriber that fell behind) the listener notices (a read error, or
no answer to a periodic PING), reconnects with capped exponential backoff, subscribes every
current topic again and only then gives each subscription a `BusReset`, so consumers resync from
the database instead of waiting forever for messages that were lost in between.

We drive a raw connection rather than redis-py's `PubSub` on purpose: `PubSub` reconnects and
re-subscribes by itself inside its retry logic, which hides exactly the gap we must report.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection, Connection, parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from server.adapters.bus.base import DEFAULT_MAX_QUEUE, BusUnavailable, Subscription, log_overflow

log = logging.getLogger(__name__)

_SUBSCRIBE = b"subscribe"
_UNSUBSCRIBE = b"unsubscribe"
_MESSAGE = b"message"
# After a failed publish, while the listener is also down, further publishes fail at once for this long.
_FAIL_FAST_SECONDS = 1.0


class _ConnectionLost(Exception):
    """The listener connection is unusable; the supervisor reconnects."""


def _not_started() -> AbstractConnection:
    raise RuntimeError("bus not started")


class _BusState(enum.Enum):
    NEW = "new"
    STARTED = "started"
    CLOSED = "closed"


class RedisBus:
    """Redis pub/sub with bounded local fan-out, reconnection, and `BusReset` after any gap.

    `channel_prefix` namespaces the Redis channels (topic "event:1:public" is channel
    prefix + "event:1:public"); every process that should see each other must use the same one.
    """

    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = "",
        max_queue: int = DEFAULT_MAX_QUEUE,
        ping_interval: float = 5.0,
        connect_timeout: float = 2.0,
        command_timeout: float = 2.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        publish_connections: int = 16,
    ) -> None:
        self.url = url
        self.channel_prefix = channel_prefix
        self.max_queue = max_queue
        self.ping_interval = ping_interval
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.publish_connections = publish_connections
        self.reconnects = 0

        self._state = _BusState.NEW
        self._subs: dict[str, list[Subscription]] = {}  # by Redis channel name (prefix + topic)
        self._publisher: Redis | None = None
        self._new_listener: Callable[[], AbstractConnection] = _not_started
        self._served = False  # the current listener got as far as subscribed
        self._ever_up = False
        self._supervisor: asyncio.Task[None] | None = None
        # The listener while it is usable; subscribers send their own SUBSCRIBE only through it.
        self._conn: AbstractConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._up = asyncio.Event()  # connected and every current topic subscribed
        self._last_received = 0.0
        # Redis answers (un)subscribe requests in order, one reply per channel: FIFO per (kind, channel).
        self._acks: dict[tuple[bytes, bytes], deque[asyncio.Future[bool]]] = {}
        self._subscribed: dict[str, asyncio.Future[bool]] = {}  # the pending/latest SUBSCRIBE per channel
        self._publish_failed_at: float | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, waiting up to `connect_timeout`; if Redis is not there yet, keep trying in the background.

        Not raising lets the server come up before Redis (compose, rolling restarts); `healthy()`
        reports False meanwhile and subscriptions made before the first connection get a reset.
        """
        if self._state is not _BusState.NEW:
            raise RuntimeError(f"bus is {self._state.value}; a bus starts once")
        self._state = _BusState.STARTED
        options = {"socket_connect_timeout": self.connect_timeout, "socket_timeout": self.command_timeout}
        # No hidden retries: a failed publish must surface as BusUnavailable, not be sent twice. A
        # bounded pool: a burst of publishes waits for a connection instead of opening hundreds.
        publish_pool = BlockingConnectionPool.from_url(
            self.url, max_connections=self.publish_connections, timeout=self.command_timeout, **options
        )
        publish_pool.connection_kwargs["retry"] = Retry(NoBackoff(), 0)
        self._publisher = Redis.from_pool(publish_pool)
        # The listener is one plain connection, RESP2 whatever the URL says: pub/sub replies are plain arrays.
        listener_options: dict[str, Any] = {**parse_url(self.url), **options}
        listener_options.update(protocol=2, client_name="parley-bus")
        connection_class: type[AbstractConnection] = listener_options.pop("connection_class", Connection)
        self._new_listener = functools.partial(connection_class, **listener_options)
        self._supervisor = asyncio.create_task(self._supervise(), name="parley-bus-listener")
        try:
            await asyncio.wait_for(self._up.wait(), self.connect_timeout)
        except TimeoutError:
            log.warning("bus: Redis at %s not reachable yet; retrying in the background", self._where())

    async def close(self) -> None:
        if self._state is _BusState.CLOSED:
            return
        self._state = _BusState.CLOSED
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for subscriptions in self._subs.values():
            for subscription in subscriptions:
                subscription.close()
        self._subs.clear()
        if self._publisher is not None:
            await self._publisher.aclose()

    # -- the Bus verbs -----------------------------------------------------------------------

    async def publish(self, topic: str, message: str) -> None:
        self._require_running()
        assert self._publisher is not None
        now = asyncio.get_running_loop().time()
        failed_at = self._publish_failed_at
        if failed_at is not None and now - failed_at < _FAIL_FAST_SECONDS and not self._up.is_set():
            # Known down: fail fast rather than make every caller wait for a connect timeout.
            raise BusUnavailable(f"Redis at {self._where()} is down; not published to {topic!r}")
        try:
            await self._publisher.publish(self.channel_prefix + topic, message)
        except (RedisError, OSError) as exc:
            self._publish_failed_at = now
            raise BusUnavailable(f"Redis at {self._where()} unavailable; not published to {topic!r}: {exc}") from exc
        self._publish_failed_at = None

    def subscribe(self, topic: str, *, max_queue: int | None = None) -> Subscription:
        return Subscription(self, topic, max_queue=self.max_queue if max_queue is None else max_queue)

    async def healthy(self) -> bool:
        """The listener is connected and subscribed, and the publishing side answers a PING."""
        if self._state is not _BusState.STARTED or not self._up.is_set() or self._publisher is None:
            return False
        try:
            await asyncio.wait_for(self._publisher.ping(), self.command_timeout)
        except (RedisError, OSError, TimeoutError):
            return False
        return True

    def subscriber_count(self, topic: str) -> int:
        return len(self._subs.get(self.channel_prefix + topic, ()))

    # -- subscriptions -----------------------------------------------------------------------

    async def _attach(self, subscription: Subscription) -> None:
        """Register locally; if connected, return only once Redis confirmed the SUBSCRIBE.

        While disconnected we just register: the supervisor subscribes every registered topic on
        reconnect and then resets each subscription, which covers whatever happened meanwhile.
        """
        self._require_running()
        channel = self.channel_prefix + subscription.topic
        subscriptions = self._subs.get(channel)
        if subscriptions is None:
            self._subs[channel] = [subscription]
            conn = self._conn
            if conn is not None:
                await self._request(conn, _SUBSCRIBE, [channel])
        else:
            subscriptions.append(subscription)
        pending = self._subscribed.get(channel)
        if pending is not None:
            await self._confirm([pending])

    async def _detach(self, subscription: Subscription) -> None:
        channel = self.channel_prefix + subscription.topic
        subscriptions = self._subs.get(channel)
        if subscriptions is None or subscription not in subscriptions:
            return
        subscriptions.remove(subscription)
        if subscriptions:
            return
        del self._subs[channel]
        self._subscribed.pop(channel, None)
        conn = self._conn
        if conn is not None:
            await self._confirm(await self._request(conn, _UNSUBSCRIBE, [channel]))

    async def _request(self, conn: AbstractConnection, kind: bytes, channels: list[str]) -> list[asyncio.Future[bool]]:
        """Send (UN)SUBSCRIBE on the listener; the futures resolve when the reader sees each reply."""
        if self._conn is not conn or not conn.is_connected:
            # Checked right before the send: redis-py would otherwise silently reconnect this
            # connection, without our subscriptions, behind the reader's back.
            return []
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[bool]] = []
        for channel in channels:
            future: asyncio.Future[bool] = loop.create_future()
            self._acks.setdefault((kind, channel.encode()), deque()).append(future)
            if kind == _SUBSCRIBE:
                self._subscribed[channel] = future
            futures.append(future)
        try:
            await conn.send_command(kind.decode().upper(), *channels)
        except (RedisError, OSError) as exc:
            self._abort(f"sending {kind.decode()} failed: {exc}")
        return futures

    async def _confirm(self, futures: Iterable[asyncio.Future[bool]]) -> bool:
        """Wait (bounded) for replies; a Redis that does not answer in time is treated as gone."""
        try:
            async with asyncio.timeout(self.command_timeout):
                for future in futures:
                    if not await asyncio.shield(future):
                        return False
        except TimeoutError:
            self._abort(f"no reply to (un)subscribe within {self.command_timeout}s")
            return False
        return True

    # -- the listener ------------------------------------------------------------------------

    async def _supervise(self) -> None:
        """Keep one listener connection alive for the life of the bus; only cancellation stops it."""
        delay = self.backoff_initial
        while True:
            self._served = False
            conn: AbstractConnection | None = None
            try:
                conn = self._new_listener()
                await conn.connect()  # type: ignore[no-untyped-call]
                await self._serve(conn)
            except (_ConnectionLost, RedisError, OSError) as exc:
                if self._served:
                    log.warning("bus: lost the Redis listener at %s (%s); reconnecting", self._where(), exc)
                else:
                    log.debug("bus: no Redis listener at %s (%s); next try in %.1fs", self._where(), exc, delay)
            except Exception:
                # A bug must not leave subscribers waiting forever: log it and start over.
                log.exception("bus: unexpected error in the Redis listener; reconnecting")
            finally:
                if conn is not None:
                    await self._drop(conn)
            if self._served:
                delay = self.backoff_initial
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)

    async def _serve(self, conn: AbstractConnection) -> None:
        """Subscribe everything, announce the gap, then watch the connection until it breaks."""
        loop = asyncio.get_running_loop()
        self._conn = conn
        self._last_received = loop.time()
        self._reader = reader = asyncio.create_task(self._read(conn), name="parley-bus-reader")
        channels = list(self._subs)
        if channels and not await self._confirm(await self._request(conn, _SUBSCRIBE, channels)):
            raise _ConnectionLost("re-subscribing was not confirmed")
        self._up.set()
        self._served = True
        if self._ever_up:
            self.reconnects += 1
        self._ever_up = True
        reset = 0
        for subscriptions in self._subs.values():
            for subscription in subscriptions:
                subscription.reset("reconnected")
                reset += 1
        if self.reconnects or reset:
            log.info("bus: Redis listener at %s connected; %d subscriptions told to resync", self._where(), reset)
        while True:
            if not conn.is_connected:  # never let redis-py reconnect it silently
                raise _ConnectionLost("connection closed")
            sent_at = loop.time()
            await conn.send_command("PING", check_health=False)
            done, _ = await asyncio.wait({reader}, timeout=self.ping_interval)
            if done:
                if reader.cancelled():
                    raise _ConnectionLost("reader aborted")
                reader.result()  # re-raises the read error
                raise _ConnectionLost("reader stopped")
            if self._last_received < sent_at:
                raise _ConnectionLost(f"no answer to PING within {self.ping_interval}s")

    async def _read(self, conn: AbstractConnection) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                response = await conn.read_response(timeout=math.inf)
                self._last_received = loop.time()
                if type(response) is not list:
                    continue  # b"PONG" before the first SUBSCRIBE: liveness only
                kind = response[0]
                if kind == _MESSAGE:
                    self._dispatch(response[1], response[2])
                elif kind == _SUBSCRIBE or kind == _UNSUBSCRIBE:
                    waiting = self._acks.get((kind, response[1]))
                    if waiting:
                        future = waiting.popleft()
                        if not future.done():
                            future.set_result(True)
                        if not waiting:
                            del self._acks[(kind, response[1])]
        finally:
            self._fail_pending()

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        subscriptions = self._subs.get(channel.decode("utf-8", "replace"))
        if not subscriptions:
            return  # an UNSUBSCRIBE is in flight
        message = data.decode("utf-8", "replace")  # once, shared by every subscriber
        for subscription in subscriptions:
            if not subscription.inbox.put(message):
                log_overflow(subscription)

    def _abort(self, why: str) -> None:
        """Break the listener from outside the reader; the supervisor reconnects and resets."""
        log.warning("bus: dropping the Redis listener: %s", why)
        if self._reader is not None:
            self._reader.cancel()

    def _fail_pending(self) -> None:
        for waiting in self._acks.values():
            for future in waiting:
                if not future.done():
                    future.set_result(False)
        self._acks.clear()
        self._subscribed.clear()

    async def _drop(self, conn: AbstractConnection) -> None:
        # Everything synchronous first: a cancellation (close()) arriving at an await below must not
        # leave waiters pending or the bus looking healthy.
        self._up.clear()
        self._conn = None
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
        self._fail_pending()
        try:
            if reader is not None:
                await asyncio.gather(reader, return_exceptions=True)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await conn.disconnect(nowait=True)

    # -- helpers -----------------------------------------------------------------------------

    def _require_running(self) -> None:
        if self._state is _BusState.NEW:
            raise RuntimeError("bus not started: call `await bus.start()` (the app lifespan does)")
        if self._state is _BusState.CLOSED:
            raise RuntimeError("bus is closed")

    def _where(self) -> str:
        """The URL without credentials, for log lines."""
        head, _, tail = self.url.rpartition("@")
        return f"{self.url.split('://', 1)[0]}://{tail}" if head else self.url
