"""``ebb log query`` and ``ebb log export`` against both engines."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ebb.cli import main
from ebb.inference_log.rows import request_rows
from ebb.inference_log.store import open_store
from ebb.inference_log.url import parse_database_url
from tests.inference_log._records import record


def seed(url: str) -> None:
    now = time.time()
    records = [record(i, received_at=now - 10 * i) for i in range(5)]
    records += [record(7, received_at=now - 3, failed=True, model="other"),
                record(8, received_at=now - 2 * 86_400)]

    async def write() -> None:
        store = open_store(parse_database_url(url))
        await store.connect()
        await store.write(request_rows(records, "none"))
        await store.close()

    asyncio.run(write())


def test_query_table_filters_and_limits(log_url: str, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    seed(log_url)
    assert main(["log", "query", "--db", log_url, "--since", "1h"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["received_at", "(UTC)", "request_id", "model", "version"]
    assert [line.split()[1] for line in lines[1:-1]] == ["r0", "r7", "r1", "r2", "r3", "r4"]
    assert lines[-1] == "(6 requests)"
    assert main(["log", "query", "--db", log_url, "--status", "4xx"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "other" in lines[1] and "bad input" in lines[1]
    assert main(["log", "query", "--db", log_url, "--since", "7d", "--model", "double",
                 "--limit", "2", "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["request_id"], e["status"], e["batch_size"]) for e in entries] == [
        ("r0", 200, 3), ("r1", 200, 3)]
    assert entries[0]["received_at"].endswith("+00:00")


def test_export_csv_and_parquet(log_url: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    seed(log_url)
    out = tmp_path / "day.csv"
    assert main(["log", "export", "--db", log_url, "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [row["request_id"] for row in rows] == ["r4", "r3", "r2", "r1", "r7", "r0"]
    assert rows[-2]["status"] == "400" and rows[-2]["error"] == "bad input"
    parquet = tmp_path / "week.parquet"
    assert main(["log", "export", "--db", log_url, "--since", "7d", "--out", str(parquet)]) == 0
    table = pq.read_table(parquet)
    assert table.num_rows == 7
    assert table.column("request_id").to_pylist()[0] == "r8"
    assert str(table.schema.field("received_at").type) == "timestamp[us, tz=UTC]"
    assert "7 requests written" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "code", "says"), [
    (["--since", "1y"], 2, "is not a duration"),
    (["--status", "6xx"], 2, "is not a status"),
    (["--limit", "-1"], 2, "--limit must be"),
])
def test_bad_flags_are_one_line(flags: list[str], code: int, says: str,
                                capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["log", "query", "--db", f"sqlite:///{tmp_path}/x.db", *flags]) == code
    error = capsys.readouterr().err
    assert says in error and error.count("\n") == 1 and error.startswith("ebb log query: ")


def test_missing_or_unreachable_databases(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    assert main(["log", "query", "--db", f"sqlite:///{tmp_path}/none.db"]) == 1
    assert "no inference log at" in capsys.readouterr().err
    assert main(["log", "query", "--db", "postgresql://ebb@127.0.0.1:1/ebb"]) == 1
    assert capsys.readouterr().err.startswith("ebb log query: PostgreSQL: ")
    assert main(["log", "query", "--db", "mysql://x/y"]) == 2
