"""``smartlib ingest --workers N``: processes on one shared subscription, into PostgreSQL (real broker and server)."""

from __future__ import annotations

import re
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from rich.console import Console
from telemetry_fixtures import (
    DATA,
    PG_DB,
    PG_HOST,
    PG_PORT,
    TestPublisher,
    good_message,
    postgres_user,
    require,
    topic,
    wait_for,
)

from telemetry import IngestConfig, open_store
from telemetry.broker import Mosquitto
from telemetry.workers import run_workers


@pytest.mark.broker
def test_two_workers_split_the_stream_and_store_each_reading_once(broker: Mosquitto) -> None:
    user = postgres_user()
    require(user is not None, f"PostgreSQL on {PG_HOST}:{PG_PORT}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = f"postgresql://{user}@{PG_HOST}:{PG_PORT}/{PG_DB}?schema={schema}"
    now = time.time()
    messages = [good_message(i, now) for i in range(400) if i % 4 in (0, 1)]  # devices of the small branch
    expected = {r for _, _, recs in messages for r in recs}
    stop = threading.Event()
    console = Console(record=True, width=250)
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["stats"] = run_workers(broker=broker.settings, store_url=url,
                                          scenarios=str(DATA / "small-branch.yaml"),
                                          config=IngestConfig(client_id="workers-test"), workers=2,
                                          status_interval_s=0.2, console=console, stop=stop)
        except BaseException as exc:  # reported by the assertions below
            result["error"] = exc

    runner = threading.Thread(target=run)
    runner.start()
    try:
        wait_for(lambda: "ingest: 2 workers" in console.export_text(clear=False) or "error" in result, 180,
                 "both workers to start")
        assert "error" not in result, result.get("error")
        pub = TestPublisher(broker.settings, client_id="workers-pub")
        for tp, payload, _ in messages:
            pub.publish(tp, payload)
        pub.publish(topic("door-counter"), b"{not json")  # a rejection, counted by whichever worker gets it
        pub.wait_acknowledged(60)
        pub.client.disconnect()
        with open_store(url) as store:
            wait_for(lambda: int(store.counts()["records"].sum() or 0) >= len(expected), 60, "every reading stored")
    finally:
        stop.set()
        runner.join(120)
    assert "error" not in result, result.get("error")
    stats = result["stats"]
    text = console.export_text()
    with open_store(url) as store:
        rows = store._query("SELECT device, quantity, time, value FROM readings")
        got = {(r.device, r.quantity, float(r.time), float(r.value)) for r in rows.itertuples(index=False)}
        counts = store.counts()
        rejections = store.rejection_counts()
        store.drop_schema()  # type: ignore[attr-defined]
    assert int(counts["records"].sum()) == len(expected), "a reading was lost or stored twice"
    assert got == expected
    assert int(rejections["count"].sum()) == 1 and set(rejections["reason"]) == {"not_json"}
    assert stats.inserted == len(expected) and stats.duplicates == 0 and stats.rejected == 1  # type: ignore[attr-defined]
    split = [int(x.replace(",", "")) for x in re.findall(r"worker \d+: ([\d,]+)", text.split("stopped:")[-1])]
    assert len(split) == 2 and all(n > 0 for n in split), f"the broker did not share the stream: {text[-500:]}"
    assert sum(split) == len(messages) + 1


def test_workers_with_a_duckdb_store_are_refused_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from twin import cli

    monkeypatch.setattr(sys, "argv", ["smartlib", "ingest", "--broker", "mqtt://127.0.0.1:1", "--store",
                                      str(tmp_path / "t.duckdb"), "--workers", "2"])
    with pytest.raises(SystemExit) as exc:
        cli.main()
    captured = capsys.readouterr()
    out = " ".join((captured.out + captured.err).split())
    assert exc.value.code != 0
    assert "--workers 2 needs a PostgreSQL store: DuckDB lets one process write a file" in out
    assert "Traceback" not in out
