"""The hub against real parts: Mosquitto, the ingest, DuckDB and PostgreSQL, `smartlib publish` and `smartlib ingest`.

The replay test simulates a day of the district branch, replays it through Mosquitto with
``smartlib publish --speed 6000 --keep-times`` into (a) a hub with its ingest in process (DuckDB)
and (b) two ``smartlib ingest`` processes on a shared subscription into PostgreSQL followed by a
second hub, then compares the twins with the simulation's true occupancy and with each other.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
from telemetry_fixtures import PG_DB, PG_HOST, PG_PORT, postgres_user, require, wait_for

from geometry.quantities import TELEMETRY_SCHEMA
from telemetry.broker import Mosquitto, find_mosquitto
from telemetry.ingest import IngestConfig
from telemetry.mqtt import DeviceClient, new_client
from telemetry.senml import Limits
from telemetry.store import open_store
from telemetry.topics import alerts_topic, status_topic, telemetry_topic
from twin.alerts import read_alerts
from twin.branch import BranchTwin
from twin.hub import Hub, HubConfig
from twin.registry import TwinRegistry

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SMARTLIB = str(Path(sys.executable).with_name("smartlib"))
DISTRICT = ROOT / "scenarios" / "district-branch.yaml"
#: The lending desk's transactions counted too (the built-in branch counts its queue only), so desk
#: waits and the self-service share are indicators of the replayed day.
DESK_COUNTER = ("  - {id: desk-counter-G, type: kiosk, floor: G, at: [30, 6], quantities: [transactions], "
                "period_s: 60}\n")


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


# --------------------------------------------------------------------------- the replayed day


@dataclass
class Replayed:
    telemetry: pd.DataFrame
    zones: pd.DataFrame
    run: Any  # the simulated day (DayResult)
    scenario: Path
    window: tuple[float, float]  # the replayed span of reading times [UTC epoch s]
    pg_url: str | None
    single: BranchTwin
    follower: BranchTwin | None
    duck_url: str
    alerts_seen: list[Any]
    n_readings: int


def _simulated_day(scenario: Path, out: Path) -> tuple[pd.DataFrame, Any, tuple[float, float]]:
    """A simulated day of the district branch, counters with 2 % miscounts, cut to 08:30-20:45 local:
    the replayed telemetry, the run and the replayed span."""
    from geometry.build import build_building
    from geometry.scenario.source import resolve_file
    from simulation.day.library_day import run_day

    src = resolve_file(scenario)
    res = run_day(build_building(src), src, seed=11)
    tel = res.telemetry.copy()
    rng = np.random.default_rng(5)
    counts = tel["quantity"].isin(["people_in", "people_out"]).to_numpy()
    v = tel.loc[counts, "value"].to_numpy(dtype=float).astype(np.int64)
    # each crossing missed with probability 2 %, and 2 % of crossings counted twice (occlusion, tailgating)
    tel.loc[counts, "value"] = (v - rng.binomial(v, 0.02) + rng.binomial(v, 0.02)).astype(float)
    tz = ZoneInfo(src.scenario.branch.timezone)
    day = res.meta["start"]
    t0 = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(8, 30), tzinfo=tz).timestamp()
    t1 = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(20, 45), tzinfo=tz).timestamp()
    tel = tel[(tel["time"] >= t0) & (tel["time"] <= t1)].reset_index(drop=True)
    from simulation.day.sensors import telemetry_arrow

    out.mkdir(parents=True, exist_ok=True)
    import pyarrow.parquet as pq

    pq.write_table(telemetry_arrow(tel), out / "telemetry.parquet")
    return tel, res, (t0, t1)


def _start_ingest(broker_url: str, store_url: str, client_id: str, scenario: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [SMARTLIB, "ingest", "--broker", broker_url, "--store", store_url, "--scenarios", str(scenario),
         "--share", "hubtest", "--client-id", client_id, "--max-past-s", "0", "--status-interval", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
    return proc


def _wait_line(proc: subprocess.Popen[str], needle: str, timeout_s: float) -> list[str]:
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if needle in line:
                found.set()

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(timeout_s):
        proc.kill()
        pytest.fail(f"{needle!r} not printed within {timeout_s:g} s; output: {''.join(lines)[-2000:]}")
    return lines


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayed]:
    require(find_mosquitto() is not None, "Mosquitto (/usr/sbin/mosquitto)")
    tmp = tmp_path_factory.mktemp("hubreplay")
    scenario = tmp / "scenarios" / "district-branch.yaml"
    scenario.parent.mkdir()
    scenario.write_text(DISTRICT.read_text(encoding="utf-8") + DESK_COUNTER, encoding="utf-8")
    started = time.monotonic()
    broker = Mosquitto(workdir=tmp / "mosquitto", persistence=True).start()
    user = postgres_user()
    pg_url = schema = None
    procs: list[subprocess.Popen[str]] = []
    follower = follow_reg = None
    single = None
    alerts_seen: list[Any] = []
    watcher = new_client(broker.settings, client_id="alert-watcher")
    try:
        if user is not None:  # the ingest processes start while the day is simulated
            schema = f"t_{uuid.uuid4().hex[:12]}"
            pg_url = f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{PG_DB}?schema={schema}"
            open_store(pg_url).close()  # the tables, before two processes race to make them
            procs = [_start_ingest(broker.settings.url, pg_url, f"ing-{k}", scenario) for k in "AB"]
        tel, run, window = _simulated_day(scenario, tmp / "day")
        print(f"\nsimulated the day in {time.monotonic() - started:.1f} s")
        duck_url = f"duckdb:///{tmp / 'hub.duckdb'}"
        # 8 h of reading time is 4.8 s at 6000x: more than two loaded processes drift apart
        cfg = HubConfig(clock="data", reorder_s=28800.0, flush_after_s=4.0)
        single_reg = TwinRegistry.from_dir(scenario)
        single = Hub(registry=single_reg, store_url=duck_url, broker=broker.settings, config=cfg,
                     ingest_config=IngestConfig(client_id="hub-single", limits=Limits(max_past_s=0)))
        # alerts: watch the retained topic as another system would
        watcher.on_message = lambda c, u, m: alerts_seen.append(orjson.loads(m.payload))
        watcher.connect(broker.settings.host, broker.settings.port)
        watcher.subscribe(alerts_topic("district-branch"), qos=1)
        watcher.loop_start()
        single.start()
        if pg_url is not None:
            for k, p in zip("AB", procs, strict=True):
                _wait_line(p, f"ingest ing-{k}:", 120.0)
            print(f"two ingest processes up after {time.monotonic() - started:.1f} s")
            follow_reg = TwinRegistry.from_dir(scenario)
            follower = Hub(registry=follow_reg, store_url=pg_url, broker=None,
                           config=HubConfig(follow=True, clock="data", reorder_s=28800.0, flush_after_s=4.0,
                                            publish_alerts=False))
            follower.start()
        t_pub = time.monotonic()
        pub = subprocess.run([SMARTLIB, "publish", str(tmp / "day"), "--broker", broker.settings.url,
                              "--speed", "6000", "--keep-times"], capture_output=True, text=True, env=_env(),
                             timeout=300)
        assert pub.returncode == 0, pub.stderr
        print(pub.stdout.strip().splitlines()[-1], f"(publish command {time.monotonic() - t_pub:.1f} s)")
        n = len(tel)
        wait_for(lambda: single.stats().readings + single.stats().duplicates >= n, 120.0, "the in-process hub")
        if follower is not None:
            last = float(tel["time"].max())
            wait_for(lambda: follower.cursor is not None and follower.cursor >= last, 120.0, "the following hub")
        time.sleep(5.0)  # past flush_after_s: the reorder windows are emptied
        wait_for(lambda: any(a for a in alerts_seen), 10.0, "alerts on the retained topic")
        yield Replayed(tel, run.zones, run, scenario, window, pg_url, single_reg.branch("district-branch"),
                       None if follow_reg is None else follow_reg.branch("district-branch"), duck_url,
                       alerts_seen, n)
    finally:
        if single is not None:
            single.stop()
        if follower is not None:
            follower.stop()
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(30)
        watcher.loop_stop()
        watcher.disconnect()
        broker.close()
        if schema is not None:
            import psycopg

            with psycopg.connect(host=PG_HOST, port=PG_PORT, dbname=PG_DB, user=user, autocommit=True) as con:
                con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _errors(rep: Replayed) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Twin vs truth at every tick while open: per tick (building) and per zone."""
    h = rep.single.history()
    z = rep.zones[["time", "zone_id", "occupancy", "is_open"]].copy()
    z["time"] = z["time"] + 60.0  # a step's mean occupancy, compared at the step's end (the tick)
    m = h.merge(z, left_on=["time", "zone"], right_on=["time", "zone_id"], suffixes=("_twin", "_true"))
    m = m[m["is_open"]]
    assert len(m) > 500, "too few ticks to compare"
    building = m.groupby("time")[["occupancy_twin", "occupancy_true"]].sum()
    return building, m


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.xdist_group("hub-replay")
def test_replayed_day_building_occupancy_tracks_the_simulation(replayed: Replayed) -> None:
    tw = replayed.single
    assert tw.readings == replayed.n_readings
    building, _ = _errors(replayed)
    cap = int(tw.capacity.sum())
    mae = float((building["occupancy_twin"] - building["occupancy_true"]).abs().mean())
    print(f"\nbuilding: MAE {mae:.2f} persons = {100 * mae / cap:.2f} % of capacity {cap} "
          f"(true mean {building['occupancy_true'].mean():.1f}, peak {building['occupancy_true'].max():.0f})")
    assert mae < 0.03 * cap


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.xdist_group("hub-replay")
def test_replayed_day_zones_with_co2_or_seat_sensors(replayed: Replayed) -> None:
    tw = replayed.single
    _, m = _errors(replayed)
    st = tw.state()
    with_occ = {d.zone_id for d in tw.building.devices if d.type == "occupancy"}
    with_co2 = {d.zone_id for d in tw.building.devices if "co2" in d.quantities}
    with_seat = set(tw.seat_zone.values())
    checked = (with_co2 | with_seat) - with_occ
    print(f"\n{'zone':14s} {'cap':>4s} {'MAE':>6s} {'% cap':>6s} {'true mean':>9s} {'bias':>6s}  sensors")
    worst = 0.0
    for zone, g in m.groupby("zone"):
        cap = st.zone(str(zone)).capacity
        err = (g["occupancy_twin"] - g["occupancy_true"])
        share = 100 * float(err.abs().mean()) / cap
        sensors = ("co2 " if zone in with_co2 else "") + ("seats " if zone in with_seat else "") + (
            "occupancy" if zone in with_occ else "")
        mark = " *" if zone in checked else ""
        print(f"{zone:14s} {cap:4d} {err.abs().mean():6.2f} {share:6.2f} {g['occupancy_true'].mean():9.1f} "
              f"{err.mean():6.2f}  {sensors or '(prior)'}{mark}")
        if zone in checked:
            worst = max(worst, share)
    print("* a CO2 or seat sensor and no occupancy sensor: MAE must stay under 10 % of capacity")
    assert len(checked) >= 5
    assert worst < 10.0


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.postgres
@pytest.mark.xdist_group("hub-replay")
def test_shared_ingest_into_postgres_followed_by_a_hub_gives_the_same_occupancy(replayed: Replayed) -> None:
    require(replayed.follower is not None, "PostgreSQL (two ingest processes and a following hub)")
    assert replayed.follower is not None
    a = replayed.single.history()
    b = replayed.follower.history()
    both = a.merge(b, on=["time", "zone"], suffixes=("_single", "_follow"))
    assert len(both) == len(a) > 500
    diff = (both["occupancy_single"] - both["occupancy_follow"]).abs()
    print(f"\n{len(both):,} zone-minutes compared; largest difference {diff.max():.2e} persons")
    np.testing.assert_allclose(both["occupancy_follow"], both["occupancy_single"], atol=1e-4)
    np.testing.assert_allclose(both["std_follow"], both["std_single"], atol=1e-4)


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.xdist_group("hub-replay")
@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_indicators_of_the_replayed_history_equal_the_simulations(replayed: Replayed, kind: str) -> None:
    """The indicators of the day from what the hub stored (DuckDB, in-process ingest) and what two
    shared-subscription ingests stored (PostgreSQL) against those from the simulation's own tables."""
    from geometry.build import build_building
    from geometry.scenario.source import resolve_file
    from twin.indicators import (
        INDICATORS,
        Period,
        indicators,
        observations_from_run,
        observations_from_store,
        period_of_days,
    )

    url = replayed.duck_url if kind == "duckdb" else replayed.pg_url
    require(url is not None, "PostgreSQL (two ingest processes)")
    assert url is not None
    src = resolve_file(replayed.scenario)
    building = build_building(src)
    res = replayed.run
    day = period_of_days(src, [dt.date.fromisoformat(res.meta["start"])], res.meta["start"])
    t0, t1 = replayed.window
    period = Period(label=day.label, days=day.days, start=t0, end=t1 + 1.0, open_intervals=day.open_intervals)
    sim = indicators(observations_from_run(res.events, res.zones, res.energy, res.telemetry, res.meta, src=src,
                                           building=building, period=period)).values()
    with open_store(url) as store:
        hist = indicators(observations_from_store(store, src, building, period)).values()
    print(f"\n{kind}: {'indicator':26s} {'simulation':>11s} {'history':>11s} {'difference':>10s}")
    worst = ("", 0.0)
    for key, *_ in INDICATORS:
        diff = abs(hist[key] - sim[key]) / abs(sim[key]) if sim[key] else abs(hist[key])
        worst = max(worst, (key, diff), key=lambda x: x[1])
        print(f"{'':{len(kind) + 2}s}{key:26s} {sim[key]:11.4f} {hist[key]:11.4f} {diff:10.2%}")
    print(f"largest difference: {worst[0]} {worst[1]:.2%}")
    for key, *_ in INDICATORS:
        assert math.isfinite(sim[key]), key
        assert hist[key] == pytest.approx(sim[key], rel=0.03, abs=1e-9), key
    # a real day: people came and sat, the desk and the kiosks were both used and queued
    assert sim["visits"] > 300 and sim["desk_wait_mean_s"] > 0 and sim["kiosk_wait_mean_s"] > 0
    assert 0 < sim["self_service_share"] < 1


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.xdist_group("hub-replay")
def test_alerts_are_stored_and_published_retained(replayed: Replayed) -> None:
    with open_store(replayed.duck_url) as store:
        stored = read_alerts(store, branch="district-branch")
    changes = replayed.single.alerts()
    assert stored and len(stored) == len({a.key for a in changes})
    # the last message on the retained topic is the set still active when the replay ended
    last = replayed.alerts_seen[-1]
    active = replayed.single.active_alerts()
    assert sorted((x["kind"], x["subject"]) for x in last) == sorted((a.kind, a.subject) for a in active)


# --------------------------------------------------------------------------- live devices going away


def _live_scenario(tmp: Path) -> Path:
    text = (DATA / "small-branch.yaml").read_text(encoding="utf-8")
    text = text.replace("period_s: 60", "period_s: 1").replace("period_s: 300", "period_s: 1")
    p = tmp / "live-branch.yaml"
    p.write_text(text, encoding="utf-8")
    return p


class _Device:
    """A device publishing one reading a second in real time until paused or closed."""

    def __init__(self, broker: Mosquitto, device: str, quantity: str, value: Any) -> None:
        self.device, self.quantity, self.value = device, quantity, value
        self.client = DeviceClient(broker.settings, branch="small", device=device,
                                   status_topic=status_topic("small", device),
                                   client_id=f"small.{device}.{uuid.uuid4().hex[:4]}")
        self.client.connect()
        self.paused = threading.Event()
        self.stopped = threading.Event()
        self.last_sent = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from geometry.quantities import QUANTITIES
        from telemetry.records import Reading, senml_pack

        unit = QUANTITIES[self.quantity].unit
        while not self.stopped.wait(1.0):
            if self.paused.is_set():
                continue
            t = round(time.time(), 3)
            kw = {"bool_value": self.value} if isinstance(self.value, bool) else {"value": float(self.value)}
            pack = senml_pack("small", self.device, [Reading("small", self.device, self.quantity, unit, t, **kw)])
            self.client.publish(telemetry_topic("small", self.device), pack)
            self.last_sent = t

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.client.close()


@pytest.mark.slow
@pytest.mark.broker
def test_a_device_going_away_raises_an_offline_alert_within_three_periods_and_clears_it(
        broker: Mosquitto, tmp_path: Path) -> None:
    reg = TwinRegistry.from_dir(_live_scenario(tmp_path))
    url = f"duckdb:///{tmp_path / 'live.duckdb'}"
    hub = Hub(registry=reg, store_url=url, broker=broker.settings,
              config=HubConfig(clock="wall", reorder_s=0.1, poll_s=0.1),
              ingest_config=IngestConfig(client_id="hub-live", linger_s=0.01))
    hub.start()
    twin = reg.branch("small")
    seat = _Device(broker, "seat-win-1", "seat_occupied", True)
    co2 = _Device(broker, "co2-reading", "co2", 600)
    try:
        def status(dev: str) -> str:
            with reg.lock:  # the hub's thread changes the twin meanwhile
                return twin.state(time.time()).device(dev).status

        def offline(dev: str) -> list[Any]:
            with reg.lock:
                return [a for a in twin.active_alerts() if a.kind == "device_offline" and a.subject == dev]

        wait_for(lambda: status("seat-win-1") == "online" and status("co2-reading") == "online", 15.0,
                 "both devices online")

        # 1. the seat sensor falls silent (its connection stays up): offline after 3 periods (3 s)
        seat.paused.set()
        paused_at = time.monotonic()
        wait_for(lambda: bool(offline("seat-win-1")), 10.0, "the seat sensor's offline alert")
        took = time.monotonic() - paused_at
        alert = offline("seat-win-1")[0]
        print(f"\nsilent seat sensor: offline alert after {took:.2f} s (period 1 s); started "
              f"{alert.started - seat.last_sent:.2f} s after its last reading")
        assert alert.started == pytest.approx(seat.last_sent + 3.0, abs=0.01)
        assert took < 3.0 + 2.0  # three periods, then at most the hub's poll and the next reading's second
        seat.paused.clear()
        wait_for(lambda: not offline("seat-win-1"), 10.0, "the seat sensor's alert to end")
        # 2. the CO2 sensor says goodbye (retained status offline): offline at once
        co2.close()
        closed_at = time.monotonic()
        wait_for(lambda: bool(offline("co2-reading")), 5.0, "the CO2 sensor's offline alert")
        print(f"CO2 sensor closed: offline alert after {time.monotonic() - closed_at:.2f} s")
        assert time.monotonic() - closed_at < 1.0 + 1.5
        co2 = _Device(broker, "co2-reading", "co2", 610)  # it comes back
        wait_for(lambda: not offline("co2-reading"), 10.0, "the CO2 sensor's alert to end")
        wait_for(lambda: hub.stats().alerts_ended >= 2, 5.0, "both ends stored")
    finally:
        seat.close()
        co2.close()
        hub.stop()
    with open_store(url) as store:
        stored = read_alerts(store, branch="small")
    offline_rows = [a for a in stored if a.kind == "device_offline" and a.subject in ("seat-win-1", "co2-reading")]
    assert len(offline_rows) >= 2 and all(a.ended is not None for a in offline_rows[:2])


# --------------------------------------------------------------------------- restart, empty and unreachable stores


def _small_readings(t0: float, minutes: int) -> pa.Table:
    rows = []
    for k in range(minutes):
        t = t0 + 60 * (k + 1)
        rows += [{"branch": "small", "device": "door-counter", "quantity": "people_in", "unit": "count", "time": t,
                  "value": float(k % 4)},
                 {"branch": "small", "device": "door-counter", "quantity": "people_out", "unit": "count", "time": t,
                  "value": float(k % 3 == 0)},
                 {"branch": "small", "device": "seat-win-1", "quantity": "seat_occupied", "unit": "", "time": t,
                  "bool_value": k % 5 != 0}]
        if k % 5 == 0:
            rows.append({"branch": "small", "device": "co2-reading", "quantity": "co2", "unit": "ppm", "time": t,
                         "value": 500.0 + 4 * k})
    return pa.Table.from_pylist(rows, schema=TELEMETRY_SCHEMA)


def test_a_restarted_hub_rebuilds_its_state_from_the_store(store_url: str) -> None:
    t0 = dt.datetime(2025, 3, 5, 9, tzinfo=dt.UTC).timestamp()
    readings = _small_readings(t0, 180)
    url = store_url
    with open_store(url) as store:
        store.write_readings(readings)
    reg = TwinRegistry.from_dir(DATA / "small-branch.yaml")
    hub = Hub(registry=reg, store_url=url, broker=None,
              config=HubConfig(follow=True, clock="data", rebuild_s=86400.0, publish_alerts=False))
    hub.start()
    try:
        assert hub.stats().rebuilt == readings.num_rows
        assert any("rebuilt from the store" in m for m in hub.messages)
    finally:
        hub.stop()
    direct = BranchTwin.from_scenario(DATA / "small-branch.yaml")
    direct.apply(readings)
    end = t0 + 181 * 60
    assert reg.branch("small").state(end).zones == direct.state(end).zones
    assert reg.branch("small").history().equals(direct.history())


def test_a_hub_on_an_empty_store_starts_empty(store_url: str) -> None:
    reg = TwinRegistry.from_dir(DATA / "small-branch.yaml")
    hub = Hub(registry=reg, store_url=store_url, broker=None,
              config=HubConfig(follow=True, clock="data", publish_alerts=False))
    hub.start()
    try:
        assert any("holds no readings yet" in m for m in hub.messages)
        st = hub.states()["small"]
        assert st.readings == 0 and st.occupancy >= 0
    finally:
        hub.stop()


def test_hub_command_mistakes_are_clear_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from twin import cli

    def run(*args: str) -> tuple[int, str]:
        """The real entry point (as the `smartlib` script runs it): exit code, stdout and stderr."""
        monkeypatch.setattr(sys, "argv", ["smartlib", "hub", *args])
        with pytest.raises(SystemExit) as exc:
            cli.main()
        captured = capsys.readouterr()
        return (exc.value.code if isinstance(exc.value.code, int) else 1), captured.out + captured.err

    duck = str(tmp_path / "x.duckdb")
    cases = [
        (("--store", "postgresql://nobody@127.0.0.1:1/nothing", "--broker", "mqtt://127.0.0.1:1"),
         "cannot connect to PostgreSQL"),
        (("--store", str(tmp_path / "missing" / "x.duckdb"), "--broker", "mqtt://127.0.0.1:1"), "does not exist"),
        (("--store", duck), "--broker is needed"),
        (("--store", duck, "--broker", "mqtt://127.0.0.1:1", "--clock", "sundial"), "--clock must be 'wall' or 'data'"),
        (("--store", duck, "--follow", "--no-publish-alerts", "--retain", "30d"), "give --retain to the ingest"),
        (("--store", duck, "--broker", "mqtt://127.0.0.1:1", "--retain", "soon"), "--retain 'soon' is not a duration"),
        (("--store", duck, "--broker", "mqtt://127.0.0.1:1", "--scenarios", str(tmp_path / "nowhere")),
         "nowhere does not exist"),
        (("--store", duck, "--broker", "mqtt://127.0.0.1:1", "--scenarios", str(DATA / "small-branch.yaml"),
          "--connect-timeout-s", "1"), "cannot be reached"),
    ]
    for args, message in cases:
        code, text = run(*args)
        assert code != 0 and message in text and "Traceback" not in text, (args, text)


def test_run_hub_follows_a_store_prints_its_status_and_stops(tmp_path: Path) -> None:
    from rich.console import Console

    from twin.hub import run_hub

    t0 = dt.datetime(2025, 3, 5, 9, tzinfo=dt.UTC).timestamp()
    url = f"duckdb:///{tmp_path / 'run.duckdb'}"
    with open_store(url) as store:
        store.write_readings(_small_readings(t0, 30))
    stop = threading.Event()
    console = Console(record=True, width=200)

    def stop_after_a_status_line() -> None:  # not after a fixed time: a loaded machine may print nothing in 1.5 s
        deadline = time.monotonic() + 120
        while "occupancy small" not in console.export_text(clear=False) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()

    threading.Thread(target=stop_after_a_status_line, daemon=True).start()
    stats = run_hub(scenarios=str(DATA / "small-branch.yaml"), broker=None, store_url=url,
                    config=HubConfig(follow=True, clock="data", publish_alerts=False), status_interval_s=0.2,
                    console=console, stop=stop)
    text = console.export_text()
    assert stats.rebuilt == _small_readings(t0, 30).num_rows and stats.error is None
    assert "rebuilt from the store" in text and "hub: 1 branches (small), following the store" in text
    assert "occupancy small" in text and "stopped:" in text


def test_the_hubs_retain_compacts_the_store_it_ingests_into(broker: Mosquitto, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from twin import cli
    from twin import hub as hub_module

    hour = 3600.0
    t0 = (time.time() // hour - 72) * hour  # three days back, on a whole hour
    old = _small_readings(t0, 30)
    path = tmp_path / "retain.duckdb"
    with open_store(str(path)) as store:
        store.write_readings(old)
    real_run_hub = hub_module.run_hub
    passed: dict[str, Any] = {}

    def run_and_stop(**kwargs: Any) -> Any:
        passed.update(kwargs)
        stop = threading.Event()
        stop.set()  # stop at once: the ingest's writer compacts before it takes its first batch
        return real_run_hub(**kwargs, stop=stop)

    monkeypatch.setattr(hub_module, "run_hub", run_and_stop)
    monkeypatch.setattr(sys, "argv", ["smartlib", "hub", "--store", str(path), "--broker", broker.url,
                                      "--scenarios", str(DATA / "small-branch.yaml"), "--retain", "1d",
                                      "--no-publish-alerts", "--client-id", "retain-hub"])
    with contextlib.suppress(SystemExit):
        cli.main()
    assert passed["ingest_config"].retain_s == 86_400.0
    with open_store(str(path)) as store:
        assert store.counts().empty, "raw readings older than a day are still there"
        hourly = store._query("SELECT sum(n) AS n FROM rollups WHERE width_s = 3600")
        assert int(hourly["n"].iloc[0]) == old.num_rows
