"""`smartlib publish`, `smartlib ingest`, `smartlib store stats`: behaviour and error messages."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from telemetry_fixtures import DATA, stored_set, wait_for, write_telemetry_scenario
from typer.testing import CliRunner

from telemetry import Ingest, IngestConfig, Limits, load_registry, open_store, synthetic_telemetry, write_synthetic
from telemetry.broker import Mosquitto
from telemetry.errors import BrokerURLError, TelemetryError
from telemetry.mqtt import parse_broker_url
from telemetry.publisher import load_telemetry
from twin import cli

runner = CliRunner()
SMALL = DATA / "small-branch.yaml"


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """Run the real entry point (as the `smartlib` script does); return exit code and stdout+stderr."""
    monkeypatch.setattr(sys, "argv", ["smartlib", *args])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    captured = capsys.readouterr()
    code = exc.value.code if isinstance(exc.value.code, int) else 1
    return code, captured.out + captured.err


def start_ingest(broker: Mosquitto, store_path: Path, limits: Limits | None = None) -> Ingest:
    ing = Ingest(broker=broker.settings, store=open_store(str(store_path)), registry=load_registry(SMALL),
                 config=IngestConfig(client_id="cli-ingest", limits=limits or Limits()))
    ing.start()
    return ing


def readings_of(table) -> set[tuple[str, str, float, object]]:  # type: ignore[no-untyped-def]
    out = set()
    for r in table.to_pylist():
        v = r["value"] if r["value"] is not None else r["bool_value"] if r["bool_value"] is not None else \
            r["string_value"]
        out.add((r["device"], r["quantity"], r["time"], v))
    return out


def test_synthetic_source_is_seeded_and_in_the_table_format() -> None:
    reg = load_registry(SMALL)
    a = synthetic_telemetry(reg, start=1_790_000_000.0, hours=2, seed=3)
    b = synthetic_telemetry(reg, start=1_790_000_000.0, hours=2, seed=3)
    c = synthetic_telemetry(reg, start=1_790_000_000.0, hours=2, seed=4)
    assert a.equals(b) and not a.equals(c)
    # every device reports each of its quantities once per period: 2 h / 60 s = 120, / 300 s = 24
    counts = a.group_by(["device", "quantity"]).aggregate([("time", "count")]).to_pylist()
    assert {(r["device"], r["quantity"]): r["time_count"] for r in counts} == {
        ("door-counter", "people_in"): 120, ("door-counter", "people_out"): 120, ("seat-win-1", "seat_occupied"): 120,
        ("co2-reading", "co2"): 24, ("co2-reading", "temperature"): 24}
    times = a.column("time").to_numpy()
    assert np.all(np.diff(times) >= 0) and times.min() >= 1_790_000_000.0 and times.max() < 1_790_007_200.0


def test_publish_synthetic_into_a_live_ingest(broker: Mosquitto, tmp_path: Path) -> None:
    ing = start_ingest(broker, tmp_path / "live.duckdb")
    result = runner.invoke(cli.app, ["publish", "--broker", broker.url, "--synthetic", str(SMALL), "--hours", "1",
                                     "--speed", "0"])
    assert result.exit_code == 0, result.output
    assert "sent" in result.output and "from 3 devices" in result.output
    rows = 60 * 3 + 12 * 2  # door counter 2 x 60, seat 60, co2 sensor 2 x 12
    wait_for(lambda: ing.stats().inserted >= rows, 20, "the synthetic hour")
    ing.stop()
    with ing.store as s:
        assert s.counts()["records"].sum() == rows
        assert s.rejection_counts().empty
        # every device said online, then offline when the replay ended
        assert s.device_status()["status"].tolist() == ["offline"] * 3
        latest = s.latest()["time"].max()
        assert abs(latest - time.time()) < 120  # re-stamped onto the wall clock


def test_publish_a_results_folder_keeping_or_restamping_times(broker: Mosquitto, tmp_path: Path) -> None:
    reg = load_registry(SMALL)
    start = float(int(time.time()) - 7200)
    path = write_synthetic(reg, tmp_path / "results", start=start, hours=0.5, seed=1)
    table = pq.read_table(path)
    ing = start_ingest(broker, tmp_path / "kept.duckdb")
    result = runner.invoke(cli.app, ["publish", str(tmp_path / "results"), "--broker", broker.url, "--speed", "0",
                                     "--keep-times"])
    assert result.exit_code == 0, result.output
    wait_for(lambda: ing.stats().inserted >= table.num_rows, 20, "the kept-time replay")
    ing.stop()
    assert stored_set(ing.store) == readings_of(table)
    ing.store.close()
    # at 3600x, half an hour takes half a second and the spacing shrinks 3600-fold
    ing = start_ingest(broker, tmp_path / "fast.duckdb")
    result = runner.invoke(cli.app, ["publish", str(tmp_path / "results"), "--broker", broker.url, "--speed", "3600"])
    assert result.exit_code == 0, result.output
    wait_for(lambda: ing.stats().inserted >= table.num_rows, 20, "the fast replay")
    ing.stop()
    got = ing.store.series(branch="small", quantity="people_in", device="door-counter")["time"].to_numpy()
    want = np.sort(table.filter(table.column("quantity").to_numpy(zero_copy_only=False) == "people_in")
                   .column("time").to_numpy())
    assert len(got) == len(want)
    assert np.allclose(np.diff(got), np.diff(want) / 3600.0, atol=1e-5)
    ing.store.close()


def test_store_stats_command(tmp_path: Path, broker: Mosquitto) -> None:
    ing = start_ingest(broker, tmp_path / "stats.duckdb")
    result = runner.invoke(cli.app, ["publish", "--broker", broker.url, "--synthetic", str(SMALL), "--hours", "0.5",
                                     "--speed", "0"])
    assert result.exit_code == 0, result.output
    from telemetry_fixtures import publish_all

    publish_all(broker.settings, [("smartlib/v1/small/co2-reading/telemetry", b"nope"),
                                  ("smartlib/v1/small/ghost/telemetry", b"[]")])
    wait_for(lambda: ing.stats().rejected >= 2 and ing.stats().inserted >= 102, 20, "the readings and rejections")
    ing.stop()
    ing.store.close()
    url = f"duckdb:///{tmp_path / 'stats.duckdb'}"
    text = runner.invoke(cli.app, ["store", "stats", "--store", url])
    assert text.exit_code == 0, text.output
    assert "102 readings" in text.output and "not_json" in text.output and "unknown_device" in text.output
    assert "branch small" in text.output and "offline 3" in text.output
    js = runner.invoke(cli.app, ["store", "stats", "--store", url, "--json"])
    data = json.loads(js.output)
    assert data["records"] == 102
    assert {r["reason"]: r["count"] for r in data["rejected_by_reason"]} == {"not_json": 1, "unknown_device": 1}
    assert sum(r["records"] for r in data["per_quantity"]) == 102


@pytest.mark.parametrize(("args", "message"), [
    (["ingest", "--broker", "localhost:1883", "--store", "x.duckdb"], "has no scheme"),
    (["ingest", "--broker", "http://localhost", "--store", "x.duckdb"], "is not mqtt:// or mqtts://"),
    (["ingest", "--broker", "mqtt://127.0.0.1:99999", "--store", "x.duckdb"], "Port out of range"),
    (["ingest", "--broker", "mqtt://127.0.0.1:1", "--store", "nosuch://x"], "store URL 'nosuch://x' is not understood"),
    (["ingest", "--broker", "mqtt://127.0.0.1:1", "--store", "duckdb:///no/such/dir/x.duckdb"],
     "folder /no/such/dir does not exist"),
    (["ingest", "--broker", "mqtt://127.0.0.1:1", "--store", "x.duckdb", "--scenarios", "no/such/dir"],
     "no/such/dir does not exist"),
    (["ingest", "--broker", "mqtt://127.0.0.1:1", "--store", "x.duckdb", "--share", "a/b"], "--share 'a/b'"),
    (["ingest", "--broker", "mqtt://u@127.0.0.1", "--store", "x.duckdb", "--password-file", "no-such-file"],
     "cannot read the password file no-such-file"),
    (["publish", "--broker", "mqtt://127.0.0.1:1"], "give a RESULTS_DIR"),
    (["publish", "no-such-results", "--broker", "mqtt://127.0.0.1:1"], "no telemetry file no-such-results"),
    (["publish", "--broker", "mqtt://127.0.0.1:1", "--synthetic", "atlantis"], "no scenario file 'atlantis'"),
    (["store", "stats", "--store", "missing.duckdb"], "missing.duckdb does not exist"),
])
def test_bad_input_gets_a_clear_message_and_no_traceback(args: list[str], message: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, output = run_main(monkeypatch, capsys, *args)
    assert code != 0
    assert message in " ".join(output.split()), output
    assert "Traceback" not in output


def test_an_unreachable_broker_is_reported_after_the_connect_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from telemetry.broker import free_port

    monkeypatch.chdir(tmp_path)
    code, output = run_main(monkeypatch, capsys, "ingest", "--broker", f"mqtt://127.0.0.1:{free_port()}",
                            "--store", "x.duckdb", "--scenarios", str(SMALL), "--connect-timeout-s", "0.3")
    assert code == 2 and "cannot be reached" in output and "Traceback" not in output


def test_a_bad_scenario_is_reported_with_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_telemetry_scenario(tmp_path)
    bad.write_text(bad.read_text().replace("type: co2,", "type: co3,"))
    code, output = run_main(monkeypatch, capsys, "ingest", "--broker", "mqtt://127.0.0.1:1", "--store",
                            str(tmp_path / "x.duckdb"), "--scenarios", str(tmp_path))
    assert code == 1 and "small-telemetry.yaml:" in output and "co3" in output and "Traceback" not in output


def test_parquet_without_telemetry_columns_is_refused(tmp_path: Path) -> None:
    import pyarrow as pa

    pq.write_table(pa.table({"time": [1.0]}), tmp_path / "telemetry.parquet")
    with pytest.raises(TelemetryError, match="lacks column"):
        load_telemetry(tmp_path)


@pytest.mark.parametrize(("url", "kwargs", "expect"), [
    ("mqtt://host", {}, ("host", 1883, False, None)),
    ("mqtts://host", {}, ("host", 8883, True, None)),
    ("mqtt://alice:s%40cret@host:1999", {}, ("host", 1999, False, "alice")),
    ("mqtt://host", {"env": {"SMARTLIB_MQTT_USERNAME": "bob", "SMARTLIB_MQTT_PASSWORD": "pw"}},
     ("host", 1883, False, "bob")),
])
def test_broker_urls(url: str, kwargs: dict[str, object], expect: tuple[object, ...]) -> None:
    s = parse_broker_url(url, **{"env": {}, **kwargs})  # type: ignore[arg-type]
    assert (s.host, s.port, s.tls, s.username) == expect
    assert "cret" not in repr(s) and "cret" not in s.url
    if "alice" in url:
        assert s.password == "s@cret"


def test_broker_url_credentials_from_a_file_and_mismatches(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("from-file\n")
    s = parse_broker_url("mqtt://host", username="carol", password_file=pw, env={})
    assert s.password == "from-file"
    with pytest.raises(BrokerURLError, match="no user name"):
        parse_broker_url("mqtt://host", password_file=pw, env={})
    with pytest.raises(BrokerURLError, match="both --tls-cert and --tls-key"):
        parse_broker_url("mqtts://host", cert_file=pw, env={})
    with pytest.raises(BrokerURLError, match="unexpected path"):
        parse_broker_url("mqtt://host/topic", env={})
