"""The hub: every branch twin fed live, from the ingest in the same process or by following the store.

Two feeds, one state:

- **in process** (the default): the hub runs an :class:`~telemetry.ingest.Ingest` and subscribes to
  its commits; each committed batch (readings and device statuses) goes to the twins.
- **following the store** (``follow=True``): when the ingest runs as several processes on a shared
  subscription into PostgreSQL, the hub reads what they committed (:meth:`Store.readings_after`)
  in time order.

Devices publish on connections of their own, so readings of different devices reach the hub
somewhat out of time order (per device the order holds). Either feed therefore hands readings to
the twins ``reorder_s`` of reading time behind the newest one, sorted, so the twins see one time
order whatever the arrival order, and both feeds give the same state; with nothing new for
``flush_after_s`` the hub catches up to the newest reading. On start
the hub rebuilds its state from the store's recent history (``rebuild_s``) and the stored device
statuses. Alerts raised or ended go to the store's ``alerts`` table and, as the current set of
the branch, retained to ``smartlib/v1/{branch}/alerts``.

The clock: ``wall`` (live devices; silence is judged against the wall clock) or ``data`` (replays
of recorded days; the hub's time is the newest reading time).
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from telemetry.errors import StoreUnavailableError, TelemetryError
from telemetry.ingest import IngestConfig
from telemetry.mqtt import BrokerSettings
from telemetry.store import Store, open_store
from telemetry.store.base import STATUS_SCHEMA, Batch, WriteResult
from telemetry.topics import alerts_topic

from .alerts import alerts_payload, ensure_alert_table, write_alerts
from .registry import TwinRegistry
from .state import Alert, BranchState

Clock = Literal["wall", "data"]


@dataclass(frozen=True, kw_only=True)
class HubConfig:
    """How the hub is fed and keeps time.

    Parameters
    ----------
    follow
        Follow the store instead of running an ingest in this process.
    clock
        ``wall`` for live devices, ``data`` for replays of recorded days (see the module docstring).
    poll_s
        Store-following: seconds between polls; both: seconds between clock advances [s].
    reorder_s
        Hand readings to the twins this much reading time behind the newest one, in time order [s]
        (more than the arrival skew between devices: a few seconds live, more for fast replays).
    flush_after_s
        With nothing new for this long, catch up to the newest reading [s].
    status_settle_s
        Store-following: a device status is taken once this old, when the readings its device sent
        before it are committed too [s].
    page_rows
        Store-following and rebuild: rows read per query.
    rebuild_s
        On start, rebuild from this much history before now (0: start empty) [s].
    publish_alerts
        Publish each branch's active alerts, retained, on ``smartlib/v1/{branch}/alerts``.
    queue_batches
        Committed batches waiting for the twins at most (the ingest waits beyond).
    """

    follow: bool = False
    clock: Clock = "wall"
    poll_s: float = 0.5
    reorder_s: float = 5.0
    flush_after_s: float = 2.0
    status_settle_s: float = 2.0
    page_rows: int = 50_000
    rebuild_s: float = 86_400.0
    publish_alerts: bool = True
    queue_batches: int = 256

    def __post_init__(self) -> None:
        if self.clock not in ("wall", "data"):
            raise ValueError(f"clock must be 'wall' or 'data', got {self.clock!r}")
        for name in ("poll_s", "flush_after_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("reorder_s", "rebuild_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative, got {getattr(self, name)}")


@dataclass(frozen=True, kw_only=True)
class HubStats:
    """Counters since the hub started (a snapshot)."""

    readings: int
    duplicates: int
    late: int
    unknown: int
    batches: int
    statuses: int
    rebuilt: int
    alerts_raised: int
    alerts_ended: int
    alerts_active: int
    backlog: int
    cursor: float | None
    last_problem: str | None
    error: str | None


class Hub:
    """Ingest (or store follower) and every branch twin in one process.

    Parameters
    ----------
    registry
        The twins.
    store_url
        The store the ingest writes to (or the hub follows), and where alerts go.
    broker
        The MQTT broker (ingest, alerts); None when following without publishing alerts.
    config
        Feed, clock, rebuild.
    ingest_config
        The in-process ingest's settings (client id, share group, limits ...).
    """

    def __init__(self, *, registry: TwinRegistry, store_url: str, broker: BrokerSettings | None,
                 config: HubConfig | None = None, ingest_config: IngestConfig | None = None) -> None:
        self.registry = registry
        self.store_url = store_url
        self.broker = broker
        self.config = cfg = config or HubConfig()
        self.ingest_config = ingest_config or IngestConfig()
        if broker is None and (not cfg.follow or cfg.publish_alerts):
            raise TelemetryError("the hub needs a broker (for the ingest, or to publish alerts)")
        self._queue: queue.Queue[tuple[pa.Table, pa.Table] | None] = queue.Queue(maxsize=cfg.queue_batches)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._store: Store | None = None  # the hub's own connection (reads, alerts)
        self._ingest: Any = None
        self._unsubscribe: Callable[[], None] | None = None
        self._mqtt: Any = None
        self.error: BaseException | None = None
        self.cursor: float | None = None  # store-following: the newest reading time applied
        self._newest_seen = -math.inf
        self._status_cursor = -math.inf
        self._last_new = time.monotonic()
        self._counts = {"readings": 0, "duplicates": 0, "late": 0, "unknown": 0, "batches": 0, "statuses": 0,
                        "rebuilt": 0, "raised": 0, "ended": 0}
        self._last_problem: str | None = None
        self._published: dict[str, bytes] = {}
        self._pending: list[pa.Table] = []  # readings not yet handed to the twins
        self._pending_status: list[tuple[float, str, str, str, float]] = []  # (position, branch, device, status, t)
        self.messages: list[str] = []  # what happened at start, for the command to print

    # ------------------------------------------------------------------ life cycle
    def start(self) -> None:
        """Open the store, rebuild from its history, then start the feed and the twins' thread.

        Raises
        ------
        StoreUnavailableError
            When the store cannot be reached.
        BrokerUnavailableError
            When the broker cannot be reached.
        """
        cfg = self.config
        self._store = open_store(self.store_url)
        try:
            ensure_alert_table(self._store)
            self._rebuild()
            if cfg.publish_alerts and self.broker is not None:
                self._connect_mqtt()
            if not cfg.follow:
                from telemetry.ingest import Ingest

                assert self.broker is not None
                self._ingest_store = open_store(self.store_url)
                self._ingest = Ingest(broker=self.broker, store=self._ingest_store,
                                      registry=self.registry.device_registry(), config=self.ingest_config)
                self._unsubscribe = self._ingest.subscribe(self._on_commit)
                self._ingest.start()
            self._worker = threading.Thread(target=self._guard, name="smartlib-hub", daemon=True)
            self._worker.start()
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the feed, apply what was committed, store and publish the last alert changes, close."""
        if self._ingest is not None:
            self._ingest.stop()
            if self._unsubscribe is not None:
                self._unsubscribe()
            self._ingest_store.close()
            self._ingest = None
        self._stop.set()
        if self._worker is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=1.0)
            self._worker.join(timeout_s)
            self._worker = None
        if self._mqtt is not None:
            self._mqtt.disconnect()
            self._mqtt.loop_stop()
            self._mqtt = None
        if self._store is not None:
            self._store.close()
            self._store = None

    @property
    def running(self) -> bool:
        alive = self._worker is not None and self._worker.is_alive()
        return alive and (self._ingest is None or self._ingest.running)

    def states(self, now: float | None = None) -> dict[str, BranchState]:
        """Every branch's state (at ``now``; default the hub's clock)."""
        return self.registry.states(self._now() if now is None else now)

    def stats(self) -> HubStats:
        c = self._counts
        with self.registry.lock:
            active = sum(len(t.active_alerts()) for t in self.registry)
        return HubStats(readings=c["readings"], duplicates=c["duplicates"], late=c["late"], unknown=c["unknown"],
                        batches=c["batches"], statuses=c["statuses"], rebuilt=c["rebuilt"],
                        alerts_raised=c["raised"], alerts_ended=c["ended"],
                        alerts_active=active,
                        backlog=self._queue.qsize(), cursor=self.cursor, last_problem=self._last_problem,
                        error=None if self.error is None else f"{type(self.error).__name__}: {self.error}")

    def ingest_stats(self) -> Any:
        """The in-process ingest's counters (None when following the store)."""
        return None if self._ingest is None else self._ingest.stats()

    # ------------------------------------------------------------------ feeding
    def _now(self) -> float:
        if self.config.clock == "wall":
            return time.time()
        clocks = [t.clock for t in self.registry if t.clock is not None]
        return max(clocks) if clocks else 0.0

    def _on_commit(self, batch: Batch, result: WriteResult, committed_at: float) -> None:
        # the ingest's writer thread: hand over and return (the queue bounds the backlog)
        while not self._stop.is_set():
            try:
                self._queue.put((batch.readings, batch.statuses), timeout=0.1)
                return
            except queue.Full:
                continue

    def _apply(self, readings: pa.Table) -> None:
        if readings.num_rows:
            r = self.registry.apply(readings)
            c = self._counts
            c["readings"] += r.applied
            c["duplicates"] += r.duplicates
            c["late"] += r.late
            c["unknown"] += r.unknown
            if r.problems:
                self._last_problem = r.problems[-1]
        self._counts["batches"] += 1

    def _guard(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a bug or a lost store: say so in stats, stop feeding
            self.error = exc
            self._stop.set()

    def _loop(self) -> None:
        cfg = self.config
        next_advance = time.monotonic()
        while True:
            stopping = self._stop.is_set()
            if cfg.follow:
                if stopping:
                    self._follow(flush=True)
                    self._alerts_out()
                    return
                if not self._follow(flush=False):
                    self._stop.wait(cfg.poll_s)
            else:
                try:
                    item = self._queue.get(timeout=cfg.poll_s)
                except queue.Empty:
                    item = None
                if item is not None:
                    self._hold(*item)
                if stopping and item is None and self._queue.empty():
                    self._release(math.inf)
                    self._alerts_out()
                    return
                if item is None and time.monotonic() - self._last_new >= cfg.flush_after_s:
                    self._release(math.inf)
            if cfg.clock == "wall" and time.monotonic() >= next_advance:
                self.registry.advance(time.time() - cfg.reorder_s)
                next_advance = time.monotonic() + cfg.poll_s
            self._alerts_out()

    def _hold(self, readings: pa.Table, statuses: pa.Table) -> None:
        """Keep a committed batch until the reorder window has passed over it."""
        if readings.num_rows:
            newest = float(pc.max(readings.column("time")).as_py())
            if newest > self._newest_seen:
                self._newest_seen = newest
            self._last_new = time.monotonic()
            self._pending.append(readings)
        if statuses.num_rows:
            cols = [statuses.column(c).to_pylist() for c in ("branch", "device", "status", "time")]
            for b, d, st, t in zip(*cols, strict=True):
                self._hold_status(b, d, st, float(t), self._device_newest(b, d))
        self._release(self._newest_seen - self.config.reorder_s)

    def _device_newest(self, branch: str, device: str) -> float:
        """Newest reading time of a device among those applied or held [UTC epoch s] (-inf if none)."""
        newest = -math.inf
        with contextlib.suppress(KeyError):
            tr = self.registry.branch(branch).trackers.get(device)
            if tr is not None and tr.last_seen is not None:
                newest = tr.last_seen
        for tbl in self._pending:
            mask = pc.and_(pc.equal(tbl.column("branch"), branch), pc.equal(tbl.column("device"), device))
            m = pc.max(tbl.filter(mask).column("time")).as_py()
            if m is not None and m > newest:
                newest = float(m)
        return newest

    def _hold_status(self, branch: str, device: str, status: str, received: float, position: float) -> None:
        """Keep a status message until the readings its device sent before it are applied.

        A device's messages come in order on its connection, so a status belongs after the
        device's readings received before it: at ``position`` in reading time. With the data clock
        it takes that time; with the wall clock, the time it was received.
        """
        t = received if self.config.clock == "wall" else (position if math.isfinite(position) else received)
        self._pending_status.append((position, branch, device, status, t))

    def _release(self, watermark: float) -> None:
        """Hand the held readings and statuses up to ``watermark`` [UTC epoch s] to the twins, in time order."""
        if self._pending:
            held = pa.concat_tables(self._pending) if len(self._pending) > 1 else self._pending[0]
            if watermark == math.inf:
                ready, self._pending = held, []
            else:
                mask = pc.less_equal(held.column("time"), watermark)
                ready = held.filter(mask)
                rest = held.filter(pc.invert(mask))
                self._pending = [rest] if rest.num_rows else []
        else:
            ready = None
        due = sorted(x for x in self._pending_status if x[0] <= watermark)
        if due:
            self._pending_status = [x for x in self._pending_status if x[0] > watermark]
        for position, branch, device, status, t in due:
            if ready is not None and ready.num_rows:
                times = ready.column("time")
                before = ready.filter(pc.less_equal(times, position))
                if before.num_rows:
                    self._apply(before)
                    ready = ready.filter(pc.greater(times, position))
            self._counts["statuses"] += self.registry.apply_statuses(pa.table(
                {"branch": [branch], "device": [device], "status": [status], "time": [t]}, schema=STATUS_SCHEMA))
        if ready is not None and ready.num_rows:
            self._apply(ready)

    def _follow(self, *, flush: bool) -> bool:
        """Read the next settled readings (and statuses) from the store and apply them; True when some came."""
        cfg = self.config
        store = self._store
        assert store is not None
        after = self.cursor if self.cursor is not None else -math.inf
        page = store.readings_after(after, limit=cfg.page_rows)
        statuses = store.device_status()
        if len(statuses):
            # taken once a moment old, so the readings its device sent before it are committed too
            settled = time.time() - cfg.status_settle_s if not flush else math.inf
            fresh = statuses[(statuses["time"] > self._status_cursor) & (statuses["time"] <= settled)]
            if len(fresh):
                self._status_cursor = float(fresh["time"].max())
                for row in fresh.itertuples(index=False):
                    latest = store.latest(branch=row.branch, device=row.device)
                    position = float(latest["time"].max()) if len(latest) else -math.inf
                    self._hold_status(row.branch, row.device, row.status, float(row.time), position)
        if page.num_rows == 0:
            if flush or time.monotonic() - self._last_new >= cfg.flush_after_s:
                self._release(math.inf)
            return False
        times = page.column("time").to_numpy()
        newest = float(times[-1])
        if newest > self._newest_seen:
            self._newest_seen = newest
            self._last_new = time.monotonic()
        full = page.num_rows >= cfg.page_rows
        if flush or (time.monotonic() - self._last_new >= cfg.flush_after_s and not full):
            settle = newest
        else:
            settle = self._newest_seen - cfg.reorder_s
            if full:  # rows at the page's last time may continue on the next page
                settle = min(settle, float(times[times < newest].max()) if (times < newest).any() else -math.inf)
        n = int((times <= settle).sum())
        if n == 0:
            return False
        self._pending.append(page.slice(0, n))
        self.cursor = float(times[n - 1])
        self._release(math.inf if flush else settle)
        return True

    # ------------------------------------------------------------------ rebuild
    def _rebuild(self) -> None:
        """Apply the store's recent history and device statuses (nothing when the store is empty)."""
        store = self._store
        assert store is not None
        cfg = self.config
        counts = store.counts()
        if not len(counts):
            self.messages.append(f"the store {store.url} holds no readings yet: the twins start empty")
            return
        newest = float(counts["last_time"].max())
        if cfg.rebuild_s <= 0:
            self.cursor = newest
            self.messages.append("no rebuild asked for (--rebuild-s 0): the twins start empty")
            return
        now = time.time() if cfg.clock == "wall" else newest
        after = now - cfg.rebuild_s
        n = 0
        while True:
            page = store.readings_after(after, limit=cfg.page_rows)
            if page.num_rows == 0:
                break
            times = page.column("time").to_numpy()
            last = float(times[-1])
            if page.num_rows >= cfg.page_rows and (times < last).any():
                page = page.slice(0, int((times < last).sum()))
                last = float(times[page.num_rows - 1])
            self._apply(page)
            n += page.num_rows
            after = last
        self.cursor = after if n else newest
        statuses = store.device_status()
        if len(statuses):
            self._status_cursor = float(statuses["time"].max())
            for row in statuses.itertuples(index=False):
                self._hold_status(row.branch, row.device, row.status, float(row.time),
                                  self._device_newest(row.branch, row.device))
            self._release(math.inf)
        if cfg.clock == "wall":
            self.registry.advance(time.time())
        self._counts["rebuilt"] = n
        hours = cfg.rebuild_s / 3600.0
        self.messages.append(f"rebuilt from the store: {n:,} readings of the last {hours:g} h"
                             if n else f"the store has no readings in the last {hours:g} h: the twins start empty")

    # ------------------------------------------------------------------ alerts out
    def _connect_mqtt(self) -> None:
        import socket

        from telemetry.mqtt import connect_blocking, new_client

        assert self.broker is not None
        host = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in socket.gethostname())
        client = new_client(self.broker, client_id=f"smartlib-hub-{host}-{id(self) & 0xFFFF:x}")
        client.reconnect_delay_set(1, 10)
        connect_blocking(client, self.broker, timeout_s=self.ingest_config.connect_timeout_s, keepalive=30)
        client.loop_start()
        self._mqtt = client

    def _alerts_out(self) -> None:
        changes = self.registry.take_alert_changes()
        if not changes:
            return
        for a in changes:
            self._counts["ended" if a.ended is not None else "raised"] += 1
        assert self._store is not None
        try:
            write_alerts(self._store, changes)
        except StoreUnavailableError as exc:
            self._last_problem = str(exc)
        if self._mqtt is not None:
            for b in sorted({a.branch for a in changes}):
                active: list[Alert] = self.registry.branch(b).active_alerts()
                payload = alerts_payload(active)
                if self._published.get(b) != payload:
                    self._mqtt.publish(alerts_topic(b), payload, qos=1, retain=True)
                    self._published[b] = payload


def run_hub(*, scenarios: str, broker: BrokerSettings | None, store_url: str, config: HubConfig,
            ingest_config: IngestConfig | None = None, status_interval_s: float = 1.0, console: Any = None,
            stop: threading.Event | None = None) -> HubStats:
    """``smartlib hub``: ingest (or follow the store) and run every branch twin until SIGINT/SIGTERM.

    Parameters
    ----------
    scenarios
        Directory (or file) of the branches' scenario files.
    broker
        MQTT broker (None only when following the store without publishing alerts).
    store_url
        Store URL (:func:`telemetry.store.open_store`).
    config, ingest_config
        Hub and in-process ingest settings.
    status_interval_s
        Seconds between status lines.
    console
        A ``rich.console.Console`` (default: stdout).
    stop
        Set it to stop (besides the signals).

    Returns
    -------
    HubStats
        The final counters.
    """
    from rich.console import Console

    from telemetry.ingest import stop_on_signals

    con: Console = console or Console()
    open_store(store_url).close()  # a bad or unreachable store is reported before the scenarios are read
    registry = TwinRegistry.from_dir(scenarios)
    hub = Hub(registry=registry, store_url=store_url, broker=broker, config=config, ingest_config=ingest_config)
    with stop_on_signals(stop) as stop_event:
        hub.start()
        for m in hub.messages:
            con.print(m, markup=False, highlight=False)
        feed = "following the store" if config.follow else "ingesting from " + (broker.url if broker else "")
        con.print(f"hub: {len(registry)} branches ({', '.join(registry.branches)}), {feed}, store {store_url}",
                  markup=False, highlight=False)
        try:
            while not stop_event.wait(status_interval_s) and hub.running:
                s = hub.stats()
                occ = ", ".join(f"{b} {st.occupancy:.0f}/{st.capacity}" for b, st in hub.states().items())
                problem = f" | {s.last_problem}" if s.last_problem else ""
                con.print(f"readings {s.readings:,} (dup {s.duplicates:,}, late {s.late:,}, unknown {s.unknown:,}) | "
                          f"alerts {s.alerts_active} active | occupancy {occ}{problem}", markup=False,
                          highlight=False)
        finally:
            hub.stop()
    final = hub.stats()
    if final.error:
        raise TelemetryError(f"the hub stopped on an error: {final.error}")
    con.print(f"stopped: {final.readings:,} readings applied, {final.alerts_raised} alerts raised, "
              f"{final.alerts_ended} ended", markup=False, highlight=False)
    return final


def hub_command(*, scenarios: str, broker_url: str | None, store_url: str, follow: bool, clock: str,
                share: str | None, client_id: str | None, reorder_s: float, rebuild_s: float,
                max_past_s: float, max_future_s: float, publish_alerts: bool, status_interval_s: float,
                console: Any, connect_timeout_s: float = 30.0, username: str | None = None,
                password_file: Any = None, retain: str | None = None) -> HubStats:
    """``smartlib hub``: check the options, then :func:`run_hub`.

    Raises
    ------
    TelemetryError
        For options that do not fit together or are out of range (named).
    """
    from telemetry.senml import Limits
    from telemetry.topics import ID_RE

    from .telemetry_ops import broker_settings, parse_duration

    if clock not in ("wall", "data"):
        raise TelemetryError(f"--clock must be 'wall' or 'data', got {clock!r}")
    if reorder_s < 0 or rebuild_s < 0:
        raise TelemetryError("--reorder-s and --rebuild-s cannot be negative")
    if max_past_s < 0 or max_future_s < 0:
        raise TelemetryError("--max-past-s and --max-future-s cannot be negative")
    if share is not None and not ID_RE.match(share):
        raise TelemetryError(f"--share {share!r}: a group name is letters, digits, '-', '_' or '.'")
    if broker_url is None and not follow:
        raise TelemetryError("--broker is needed to ingest (or give --follow to follow the store)")
    if retain is not None and follow:
        raise TelemetryError("--retain compacts through this hub's ingest, and --follow runs none here: give "
                             "--retain to the ingest (or hub) that writes the store")
    retain_s = parse_duration(retain, "--retain") if retain is not None else None
    if broker_url is None and publish_alerts:
        raise TelemetryError("--broker is needed to publish alerts (or give --no-publish-alerts)")
    settings = broker_settings(broker_url, username=username, password_file=password_file) if broker_url else None
    config = HubConfig(follow=follow, clock=clock, reorder_s=reorder_s, rebuild_s=rebuild_s,  # type: ignore[arg-type]
                       publish_alerts=publish_alerts)
    if not connect_timeout_s > 0:
        raise TelemetryError(f"--connect-timeout-s must be positive, got {connect_timeout_s}")
    ingest_config = IngestConfig(client_id=client_id or "", share=share, connect_timeout_s=connect_timeout_s,
                                 limits=Limits(max_past_s=max_past_s, max_future_s=max_future_s), retain_s=retain_s)
    return run_hub(scenarios=scenarios, broker=settings, store_url=store_url, config=config,
                   ingest_config=ingest_config, status_interval_s=status_interval_s, console=console)


__all__ = ["Hub", "HubConfig", "HubStats", "hub_command", "run_hub"]
