"""``ebb log query`` and ``ebb log export``: read the inference log a server writes.

    ebb log query --db sqlite:///log.db --since 1h --status 5xx
    ebb log export --db postgresql://ebb@db:5432/ebb --since 24h --format parquet --out day.parquet

Exit status: 0 done, 1 the database or the output file failed, 2 invalid flags.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from ebb.inference_log.base import StoreUnavailable
from ebb.inference_log.output import as_csv, as_json, as_table, write_parquet
from ebb.inference_log.queries import LogEntry, LogFilter, parse_since, parse_status
from ebb.inference_log.store import open_store
from ebb.inference_log.url import DatabaseUrl, parse_database_url

FORMATTERS = {"table": as_table, "csv": as_csv, "json": as_json}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="log_command", required=True, metavar="ACTION")
    query = actions.add_parser("query", help="print logged requests",
                               description="Print the requests a server logged, newest first.")
    _add_filters(query, "1h")
    query.add_argument("--limit", type=int, default=100,
                       help="at most this many requests; 0: all (default: %(default)s)")
    query.add_argument("--format", choices=sorted(FORMATTERS), default="table")
    export = actions.add_parser("export", help="write logged requests to a file",
                                description="Write the requests a server logged, oldest "
                                            "first, as Parquet (needs ebb[log]) or CSV.")
    _add_filters(export, "24h")
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    export.add_argument("--out", type=Path, required=True, metavar="FILE")


def _add_filters(parser: argparse.ArgumentParser, since: str) -> None:
    parser.add_argument("--db", required=True, metavar="URL",
                        help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB")
    parser.add_argument("--since", default=since, metavar="DURATION",
                        help="how far back: 30s, 15m, 1h, 7d, 2w (default: %(default)s)")
    parser.add_argument("--model", help="only this model")
    parser.add_argument("--status", metavar="STATUS", help="only this status: 200, 4xx, 5xx...")


def run(args: argparse.Namespace) -> int:
    prefix = f"ebb log {args.log_command}"
    try:
        url = parse_database_url(args.db)
        where = LogFilter(
            since=time.time() - parse_since(args.since), model=args.model,
            status=parse_status(args.status) if args.status else None,
            limit=(args.limit or None) if args.log_command == "query" else None,
            newest_first=args.log_command == "query")
        if where.limit is not None and where.limit < 0:
            raise ValueError(f"--limit must be 0 or more, got {where.limit}")
    except ValueError as error:
        print(f"{prefix}: {error}", file=sys.stderr)
        return 2
    if url.engine == "sqlite" and not Path(url.target).is_file():
        print(f"{prefix}: no inference log at {url.target}", file=sys.stderr)
        return 1
    try:
        entries = asyncio.run(_read(url, where))
    except (StoreUnavailable, ValueError) as error:
        print(f"{prefix}: {error}", file=sys.stderr)
        return 1
    if args.log_command == "query":
        print(FORMATTERS[args.format](entries))
        return 0
    return _export(entries, args.format, args.out, prefix)


async def _read(url: DatabaseUrl, where: LogFilter) -> list[LogEntry]:
    store = open_store(url)
    await store.connect()
    try:
        return await store.query(where)
    finally:
        await store.close()


def _export(entries: list[LogEntry], kind: str, out: Path, prefix: str) -> int:
    try:
        if kind == "csv":
            out.write_text(as_csv(entries))
        else:
            write_parquet(entries, out)
    except ImportError:
        print(f"{prefix}: Parquet needs pyarrow: pip install 'ebb[log]' (or --format csv)",
              file=sys.stderr)
        return 1
    except OSError as error:
        print(f"{prefix}: cannot write {out}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"{len(entries)} requests written to {out}", file=sys.stderr)
    return 0
