"""The ingest: MQTT messages in, validated readings and dead letters committed, then acknowledged.

Flow: paho's network thread puts each message on a bounded queue (nothing else). One worker
thread takes messages off the queue, validates them (:class:`~telemetry.senml.Validator`) into a
batch, and commits the batch when it holds ``batch_records`` readings or its first message is
``linger_s`` old. Only after the commit does it acknowledge the batch's messages (QoS 1, manual
ack), so a crash of the ingest or a restart of the broker loses nothing: unacknowledged messages
stay in the persistent session and come again, and the store ignores readings it already has.

The broker never has more than ``receive_maximum`` unacknowledged messages out to us (MQTT v5
Receive Maximum), so the queue stays bounded: a slow store holds acknowledgements back and the
broker holds the messages, instead of this process eating memory.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import math
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import pyarrow as pa

from .errors import StoreUnavailableError, TelemetryError
from .mqtt import BrokerSettings, Received, Subscription
from .registry import DeviceRegistry
from .senml import Columns, Limits, Outcome, Reason, Rejection, Validator
from .store.base import DEAD_LETTER_SCHEMA, REJECTION_COUNT_SCHEMA, STATUS_SCHEMA, Batch, Store, WriteResult
from .topics import SUBSCRIPTION, is_alerts_topic, shared

#: Called after each commit with the batch committed (readings, statuses ...), the write result and the
#: commit time [UTC epoch s]; readings the store already had (redeliveries) are in the batch too.
CommitHook = Callable[[Batch, WriteResult, float], None]

_NOT_TELEMETRY = Outcome(None, None, 0, ())
_NO_DEAD_LETTERS = DEAD_LETTER_SCHEMA.empty_table()
_NO_REJECTION_COUNTS = REJECTION_COUNT_SCHEMA.empty_table()
_NO_STATUSES = STATUS_SCHEMA.empty_table()


@dataclass(frozen=True)
class IngestConfig:
    """How the ingest batches, bounds and names itself.

    Parameters
    ----------
    client_id
        MQTT client id of the persistent session (default ``smartlib-ingest-{host}[-{share}]``);
        each process of a shared subscription needs its own.
    share
        Shared-subscription group (MQTT v5): processes in the same group split the messages.
    batch_records
        Commit when a batch holds this many readings.
    linger_s
        Commit at the latest this long after the first message of a batch arrived [s].
    receive_maximum
        Most unacknowledged messages the broker may have out to us; the queue holds twice that.
    dead_letter_payload_bytes
        Payload bytes kept per dead letter [bytes] (the full size is recorded too).
    dead_letters_per_minute
        Dead-letter rows kept per device and minute; past that a flood is only counted
        (``rejection_counts`` stays exact), so bad messages cannot crowd out good ones.
    limits
        Payload, record and time-window bounds of the validator.
    retain_s
        Keep raw readings this long [s]: older ones are rolled up into 1-minute and 1-hour aggregates
        and removed (:meth:`~telemetry.store.Store.compact`), at the start and every ``compact_every_s``
        after; None keeps everything raw.
    compact_every_s
        Time between compactions when ``retain_s`` is set [s].
    rejections_every_s
        Dead letters and rejection counts are written at most this often [s] (or once ``receive_maximum / 4``
        messages with rejections wait); the messages they came from are acknowledged after that commit, so the
        counts stay exact while good readings are committed every ``linger_s`` without them.
    """

    client_id: str = ""
    share: str | None = None
    batch_records: int = 5_000
    linger_s: float = 0.02
    receive_maximum: int = 10_000
    dead_letter_payload_bytes: int = 2_048
    dead_letters_per_minute: int = 120
    limits: Limits = field(default_factory=Limits)
    connect_timeout_s: float = 30.0
    session_expiry_s: int = 7 * 86_400
    retain_s: float | None = None
    compact_every_s: float = 3600.0
    rejections_every_s: float = 1.0

    def resolved_client_id(self) -> str:
        if self.client_id:
            return self.client_id
        host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname()) or "host"
        return f"smartlib-ingest-{host}" + (f"-{self.share}" if self.share else "")


@dataclass(frozen=True)
class IngestStats:
    """Counters since the start (a snapshot); ``compacted`` counts raw readings rolled up by ``retain_s``."""

    messages: int
    records: int
    inserted: int
    duplicates: int
    rejected: int
    dead_letter_rows: int
    statuses: int
    batches: int
    queue_depth: int
    peak_queue_depth: int
    connected: bool
    protocol: str
    reconnects: int
    store_errors: int
    last_error: str | None
    uptime_s: float
    compacted: int = 0


class _Sampler:
    """How many dead-letter rows each (branch, device) may still keep in the current minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._window = -1
        self._kept: dict[tuple[str, str], int] = {}

    def keep(self, key: tuple[str, str], received: float) -> bool:
        window = int(received // 60)
        if window != self._window:
            self._window = window
            self._kept.clear()
        kept = self._kept.get(key, 0)
        if kept >= self.per_minute:
            return False
        self._kept[key] = kept + 1
        return True


class _DeadLetters:
    """Rejections of one batch: sampled rows plus exact counts per (branch, device, reason)."""

    def __init__(self, payload_cap: int, sampler: _Sampler) -> None:
        self.payload_cap = payload_cap
        self.sampler = sampler
        self.cols: dict[str, list[Any]] = {n: [] for n in DEAD_LETTER_SCHEMA.names}
        self.counts: dict[tuple[str, str, str], list[float]] = {}

    def __len__(self) -> int:
        return len(self.cols["reason"])

    def add(self, topic: str, payload: bytes, outcome: Outcome, received: float, key: tuple[str, str]) -> None:
        for rej in outcome.rejections:
            ck = (key[0], key[1], rej.reason.value)
            c = self.counts.get(ck)
            if c is None:
                self.counts[ck] = [1.0, received, received]
            else:
                c[0] += 1
                c[2] = received
            if not self.sampler.keep(key, received):
                continue
            col = self.cols
            col["received"].append(received)
            col["topic"].append(topic)
            col["branch"].append(outcome.branch)
            col["device"].append(outcome.device)
            col["reason"].append(rej.reason.value)
            col["detail"].append(rej.detail)
            col["record"].append(rej.record)
            col["payload"].append(payload[:self.payload_cap])
            col["payload_bytes"].append(len(payload))

    def tables(self) -> tuple[pa.Table, pa.Table]:
        rows = pa.table(self.cols, schema=DEAD_LETTER_SCHEMA)
        keys = list(self.counts)
        counts = pa.table({
            "branch": [k[0] for k in keys], "device": [k[1] for k in keys], "reason": [k[2] for k in keys],
            "count": [int(self.counts[k][0]) for k in keys], "first_received": [self.counts[k][1] for k in keys],
            "last_received": [self.counts[k][2] for k in keys]}, schema=REJECTION_COUNT_SCHEMA)
        return rows, counts


class Ingest:
    """MQTT to store: validate, batch, commit, then acknowledge.

    Parameters
    ----------
    broker
        Broker address and credentials.
    store
        Where readings and dead letters go (used only by the worker thread).
    registry
        Known branches and devices (the scenarios' device lists).
    config
        Batching, bounds, client id, share group.

    Use :meth:`subscribe` to be called after each commit (the live twins, benchmarks).
    """

    def __init__(self, *, broker: BrokerSettings, store: Store, registry: DeviceRegistry,
                 config: IngestConfig | None = None) -> None:
        self.broker = broker
        self.store = store
        self.registry = registry
        self.config = config or IngestConfig()
        self._hooks: tuple[CommitHook, ...] = ()
        self.validator = Validator(registry, self.config.limits)
        self.client_id = self.config.resolved_client_id()
        # a deque: append and popleft are atomic and far cheaper than queue.Queue; the worker sleeps on
        # _wake only when the deque is empty (and says so in _waiting)
        self._queue: collections.deque[Received] = collections.deque()
        self._max_queue = 2 * self.config.receive_maximum
        self._peak_queue = 0
        self._wake = threading.Event()
        self._waiting = False
        topic = shared(self.config.share, SUBSCRIPTION) if self.config.share else SUBSCRIPTION
        self.subscription = Subscription(broker, client_id=self.client_id, topics=[topic], handler=self._enqueue,
                                         receive_maximum=self.config.receive_maximum,
                                         session_expiry_s=self.config.session_expiry_s)
        self._stopping = threading.Event()
        self._dead = threading.Event()  # a thread has stopped for good: the others stop too
        self._commits: queue.Queue[_Pending | None] = queue.Queue(maxsize=1)  # validated, awaiting commit
        self._writing = False
        self._validator: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._started = time.monotonic()
        self.error: BaseException | None = None
        # counters (written by the worker only)
        self._messages = 0
        self._records = 0
        self._inserted = 0
        self._duplicates = 0
        self._rejected = 0
        self._dead_rows = 0
        self._statuses = 0
        self._batches = 0
        self._store_errors = 0
        self._last_error: str | None = None
        self._compacted = 0
        self._next_compaction = 0.0

    def subscribe(self, hook: CommitHook) -> Callable[[], None]:
        """Call ``hook(batch, result, committed_at)`` after every commit (in the writer thread, in commit order).

        Returns
        -------
        callable
            Calling it unsubscribes ``hook`` (calling it again does nothing).
        """
        self._hooks = (*self._hooks, hook)

        def unsubscribe() -> None:
            self._hooks = tuple(h for h in self._hooks if h is not hook)

        return unsubscribe

    def _enqueue(self, msg: Received) -> None:
        q = self._queue
        # MQTT 5 flow control (Receive Maximum) keeps the queue under the bound; a 3.1.1 broker may not:
        # then hold paho's network thread, and TCP makes the broker wait
        while len(q) >= self._max_queue and not self._stopping.is_set():
            time.sleep(0.001)
        q.append(msg)
        if len(q) > self._peak_queue:
            self._peak_queue = len(q)
        if self._waiting:
            self._wake.set()

    def _take(self, timeout_s: float) -> Received | None:
        """The next message, waiting up to ``timeout_s`` for one; None when none came."""
        q = self._queue
        try:
            return q.popleft()
        except IndexError:
            pass
        if timeout_s <= 0:
            return None
        self._wake.clear()
        self._waiting = True
        try:
            if not q:  # look again after saying we wait: an append in between has set _wake or is seen here
                self._wake.wait(timeout_s)
        finally:
            self._waiting = False
        try:
            return q.popleft()
        except IndexError:
            return None

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Register the devices in the store, start the validator and writer threads, connect and subscribe.

        Raises
        ------
        BrokerUnavailableError
            When the broker cannot be reached or refuses us.
        """
        self.store.register_devices(self.registry.to_arrow())
        pa.array([0.0])  # pyarrow's first conversion imports pandas (a second or so): not inside a batch
        self._started = time.monotonic()
        self._validator = threading.Thread(target=self._guard, args=(self._validate_loop,),
                                           name="smartlib-ingest-validator", daemon=True)
        self._writer = threading.Thread(target=self._guard, args=(self._write_loop,), name="smartlib-ingest-writer",
                                        daemon=True)
        self._validator.start()
        self._writer.start()
        try:
            self.subscription.start(timeout_s=self.config.connect_timeout_s)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout_s: float = 30.0) -> None:
        """Commit and acknowledge what was received, then disconnect (the session stays on the broker)."""
        self._stopping.set()
        self._wake.set()
        for t in (self._validator, self._writer):
            if t is not None:
                t.join(timeout_s)
        self.subscription.stop()

    @property
    def running(self) -> bool:
        return all(t is not None and t.is_alive() for t in (self._validator, self._writer))

    def stats(self) -> IngestStats:
        sub = self.subscription
        return IngestStats(
            messages=self._messages, records=self._records, inserted=self._inserted, duplicates=self._duplicates,
            rejected=self._rejected, dead_letter_rows=self._dead_rows, statuses=self._statuses,
            batches=self._batches, queue_depth=len(self._queue), peak_queue_depth=self._peak_queue,
            connected=sub.connected, protocol=sub.protocol,
            reconnects=max(0, sub.connects - 1), store_errors=self._store_errors,
            last_error=self._last_error or sub.last_error, uptime_s=time.monotonic() - self._started,
            compacted=self._compacted)

    # ------------------------------------------------------------------ the threads
    def _guard(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except BaseException as exc:  # a bug: stop taking messages; nothing unacknowledged is lost
            self.error = exc
            self._last_error = f"ingest {loop.__name__.strip('_')} stopped: {type(exc).__name__}: {exc}"
            self._stopping.set()
            self._dead.set()

    def _hand_over(self, pending: _Pending | None) -> bool:
        """Give a batch (or the end marker) to the writer; False when the writer has gone."""
        while not self._dead.is_set():
            try:
                self._commits.put(pending, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _validate_loop(self) -> None:
        """Take messages off the queue, validate them into batches, hand full or lingering batches to the writer.

        Messages with rejections are kept apart: their dead letters and counts are written at most every
        ``rejections_every_s`` (or once ``receive_maximum / 4`` such messages wait), in the transaction of a batch,
        and those messages are acknowledged after it. A flood of bad messages then costs one small write a second
        instead of turning every batch of good readings into a multi-statement transaction.
        """
        cfg = self.config
        q = self._queue
        take = self._take
        validate = self.validator.validate
        registry = self.registry
        new_dead = functools.partial(_DeadLetters, cfg.dead_letter_payload_bytes, _Sampler(cfg.dead_letters_per_minute))
        cols, dead = self.validator.columns(), new_dead()
        statuses: list[tuple[str, str, str, float]] = []
        acks: list[tuple[int, int]] = []
        held: list[tuple[int, int]] = []  # acks of messages with rejections: sent after their dead letters' commit
        max_held = max(1, cfg.receive_maximum // 4)
        topics: dict[bytes, str] = {}
        first_at = dead_since = 0.0
        n_msgs = n_held = 0
        while not self._dead.is_set():
            if not n_msgs and not n_held:
                wait = 0.05
            elif self._writer_busy():
                wait = 0.002  # group commit: while the writer is busy, the batch keeps growing
            else:
                wait = min(first_at + cfg.linger_s if n_msgs else math.inf,
                           dead_since + cfg.rejections_every_s if n_held else math.inf) - time.monotonic()
            msg = take(wait)
            while msg is not None:
                received = time.time()
                topic = topics.get(msg.topic)
                if topic is None:
                    topic = msg.topic.decode("utf-8", "replace")
                    if len(topics) < 10_000:  # a flood of random topics must not grow memory without bound
                        topics[msg.topic] = topic
                payload = msg.payload
                try:
                    # the hub's retained alerts share the prefix: neither telemetry nor a dead letter
                    outcome = _NOT_TELEMETRY if is_alerts_topic(topic) else validate(topic, payload, received, cols)
                except Exception as exc:  # a validator bug: keep the message as a dead letter and go on
                    outcome = Outcome(None, None, 0, (Rejection(
                        Reason.INTERNAL_ERROR, f"validator failed: {type(exc).__name__}: {exc}"),))
                if outcome.rejections:
                    b, d = outcome.branch or "", outcome.device or ""
                    if registry.get(b, d) is None:
                        b, d = (b if registry.has_branch(b) else ""), ""
                    dead.add(topic, payload, outcome, received, (b, d))
                    if not n_held:
                        dead_since = time.monotonic()
                    n_held += 1
                    if msg.qos:
                        held.append((msg.generation, msg.mid))
                else:
                    if not n_msgs:
                        first_at = time.monotonic()
                    n_msgs += 1
                    if msg.qos:
                        acks.append((msg.generation, msg.mid))
                if outcome.status is not None:
                    statuses.append((outcome.branch or "", outcome.device or "", outcome.status, received))
                if len(cols) >= cfg.batch_records or n_held >= max_held:
                    break
                try:
                    msg = q.popleft()
                except IndexError:
                    msg = None
            stopping = self._stopping.is_set()
            drained = stopping and not q
            now = time.monotonic()
            idle = not self._writer_busy()
            flush_dead = n_held > 0 and (drained or n_held >= max_held or (now - dead_since >= cfg.rejections_every_s
                                                                           and idle))
            if flush_dead or (n_msgs and (len(cols) >= cfg.batch_records or drained or (
                    now - first_at >= cfg.linger_s and idle))):
                if flush_dead:
                    pending = _Pending.of(cols, dead, statuses, acks + held, n_msgs + n_held)
                    dead, held, n_held = new_dead(), [], 0
                else:
                    pending = _Pending.of(cols, None, statuses, acks, n_msgs)
                if not self._hand_over(pending):
                    return
                cols, statuses, acks, n_msgs = self.validator.columns(), [], [], 0
            if stopping and not n_msgs and not n_held and not q:
                self._hand_over(None)
                return

    def _writer_busy(self) -> bool:
        return self._writing or not self._commits.empty()

    def _write_loop(self) -> None:
        """Commit batches in order; acknowledge each batch's messages only after its commit."""
        while True:
            self._writing = False
            if self.config.retain_s is not None and time.monotonic() >= self._next_compaction:
                self._compact()
            try:
                pending = self._commits.get(timeout=0.1)
            except queue.Empty:
                if self._dead.is_set():  # the validator has gone (a bug) and will send no end marker
                    return
                continue
            if pending is None:
                return
            self._writing = True
            delay = 0.1
            gave_up_at = None
            while True:
                try:
                    result = self.store.write(pending.batch)
                    break
                except StoreUnavailableError as exc:
                    self._store_errors += 1
                    self._last_error = str(exc)
                    if self._stopping.is_set():
                        gave_up_at = gave_up_at or time.monotonic() + 5.0
                        if time.monotonic() > gave_up_at:
                            self._dead.set()  # stopping while the store is down: the broker keeps the rest
                            return
                    time.sleep(delay)
                    delay = min(delay * 2, 5.0)
            committed_at = time.time()
            self.subscription.ack_many(pending.acks)
            readings = pending.batch.readings
            self._messages += pending.messages
            self._records += readings.num_rows
            self._inserted += result.inserted
            self._duplicates += result.duplicates
            self._rejected += pending.rejected
            self._dead_rows += result.dead_letters
            self._statuses += pending.batch.statuses.num_rows
            self._batches += 1
            if self._store_errors and self._last_error and self._last_error.startswith(("PostgreSQL", "DuckDB")):
                self._last_error = None
            self._committed(pending.batch, result, committed_at)

    def _committed(self, batch: Batch, result: WriteResult, committed_at: float) -> None:
        """The one place a committed batch is handed on: to every hook of :meth:`subscribe`, with the write
        result and the commit time [UTC epoch s]. Runs on the writer thread, after the commit and the
        acknowledgements."""
        for hook in self._hooks:
            hook(batch, result, committed_at)

    def _compact(self) -> None:
        """Roll up and remove raw readings older than ``retain_s`` (on the writer thread, between batches)."""
        assert self.config.retain_s is not None
        self._next_compaction = time.monotonic() + self.config.compact_every_s
        try:
            done = self.store.compact(older_than_s=self.config.retain_s)
        except StoreUnavailableError as exc:  # the readings stay raw until the next try
            self._store_errors += 1
            self._last_error = f"compaction failed (retried in {self.config.compact_every_s:g} s): {exc}"
            return
        self._compacted += done.removed


@dataclass(frozen=True)
class _Pending:
    """A validated batch on its way to the writer, with the acknowledgements it releases."""

    batch: Batch
    acks: list[tuple[int, int]]
    messages: int
    rejected: int

    @classmethod
    def of(cls, cols: Columns, dead: _DeadLetters | None, statuses: list[tuple[str, str, str, float]],
           acks: list[tuple[int, int]], n_msgs: int) -> _Pending:
        if dead is None:
            dl_rows, dl_counts, rejected = _NO_DEAD_LETTERS, _NO_REJECTION_COUNTS, 0
        else:
            dl_rows, dl_counts = dead.tables()
            rejected = sum(int(c[0]) for c in dead.counts.values())
        st = _NO_STATUSES if not statuses else pa.table(
            {"branch": [s[0] for s in statuses], "device": [s[1] for s in statuses],
             "status": [s[2] for s in statuses], "time": [s[3] for s in statuses]}, schema=STATUS_SCHEMA)
        return cls(Batch(readings=cols.to_arrow(), dead_letters=dl_rows, rejection_counts=dl_counts, statuses=st,
                         series=cols.series_index()),
                   acks, n_msgs, rejected)


# ---------------------------------------------------------------------- the command


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event | None = None) -> Iterator[threading.Event]:
    """An event that SIGINT or SIGTERM sets while inside; the old handlers come back on leaving.

    Handlers are installed only in the main thread (elsewhere only ``stop`` stops).
    """
    event = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        event.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        yield event
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_ingest(*, broker: BrokerSettings, store_url: str, scenarios: str, config: IngestConfig,
               status_interval_s: float = 1.0, console: Any = None, stop: threading.Event | None = None) -> IngestStats:
    """Run the ingest until SIGINT or SIGTERM, showing a live status line; return the final counters.

    Parameters
    ----------
    broker
        Broker settings.
    store_url
        Store URL (see :func:`telemetry.store.open_store`).
    scenarios
        Directory (or file) of scenario files whose devices are accepted.
    config
        Ingest configuration.
    status_interval_s
        Seconds between status updates (a line each when not on a terminal).
    console
        A ``rich.console.Console`` to write to (default: stdout).
    stop
        Set it to stop (besides the signals).
    """
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    from .registry import load_registry
    from .store import open_store

    con: Console = console or Console()
    store = open_store(store_url)  # first: a bad store URL is reported before the scenarios are read
    try:
        registry = load_registry(scenarios)
        ingest = Ingest(broker=broker, store=store, registry=registry, config=config)
        with stop_on_signals(stop) as stop_event:
            ingest.start()
            con.print(f"ingest {ingest.client_id}: {broker.url} ({ingest.subscription.protocol}"
                      f"{', share ' + config.share if config.share else ''}) -> {store.url}; "
                      f"{len(registry)} devices in {', '.join(registry.branches)}", highlight=False)
            last = ingest.stats()
            last_t = time.monotonic()

            def line(s: IngestStats, dt: float) -> str:
                mps = (s.messages - last.messages) / dt if dt > 0 else 0.0
                rps = (s.records - last.records) / dt if dt > 0 else 0.0
                state = "connected" if s.connected else "RECONNECTING"
                err = f" | {s.last_error}" if s.last_error else ""
                return (f"{state} | {mps:,.0f} msg/s {rps:,.0f} rec/s | messages {s.messages:,} stored {s.inserted:,} "
                        f"dup {s.duplicates:,} rejected {s.rejected:,} | queue {s.queue_depth:,}{err}")

            if con.is_terminal:
                with Live(Text("starting"), console=con, refresh_per_second=4, transient=False) as live:
                    while not stop_event.wait(status_interval_s) and ingest.running:
                        s, now = ingest.stats(), time.monotonic()
                        live.update(Text(line(s, now - last_t)))
                        last, last_t = s, now
            else:
                while not stop_event.wait(status_interval_s) and ingest.running:
                    s, now = ingest.stats(), time.monotonic()
                    con.print(line(s, now - last_t), highlight=False)
                    last, last_t = s, now
            ingest.stop()
            final = ingest.stats()
            if ingest.error is not None:
                raise TelemetryError(f"the ingest stopped on an error: {final.last_error}") from ingest.error
            con.print(f"stopped: {final.messages:,} messages, {final.inserted:,} readings stored "
                      f"({final.duplicates:,} already there), {final.rejected:,} rejected", highlight=False)
            return final
    finally:
        store.close()


__all__ = ["Ingest", "IngestConfig", "IngestStats", "Reason", "run_ingest"]
