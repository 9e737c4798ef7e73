"""What a lean Python request path reaches: the double request with a queue and a batcher, no ASGI.

An asyncio ``Protocol`` on uvloop with the httptools parser (as uvicorn uses), and per request
what Ebb's path does at its core: the OIP JSON body decoded into a numpy array, a task and a
future, the request queued for one batching coroutine that stacks the waiting requests, runs the
model (x2) once and resolves each future with its rows, and the answer encoded with orjson and
written as one buffer. No limits, no metrics, no validation beyond the decode, and the model runs
in-process (Ebb's and Triton's run in a worker process). It measures how much of Ebb's per-request
cost is Python itself and how much is Ebb's layers above it.

Usage: ``python bench/raw_protocol.py --port P`` (binds 127.0.0.1).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import httptools
import numpy as np
import orjson
import uvloop

_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
_EMPTY = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"


class Batcher:
    """One coroutine answering every waiting request with one stacked model call."""

    def __init__(self) -> None:
        self.waiting: list[tuple[np.ndarray, asyncio.Future[np.ndarray]]] = []
        self._wake: asyncio.Future[None] | None = None

    def put(self, rows: np.ndarray) -> asyncio.Future[np.ndarray]:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((rows, future))
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)
        return future

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.waiting:
                self._wake = loop.create_future()
                await self._wake
            batch, self.waiting = self.waiting, []
            stacked = np.concatenate([rows for rows, _ in batch]) * 2
            offset = 0
            for rows, future in batch:
                future.set_result(stacked[offset:offset + len(rows)])
                offset += len(rows)
            await asyncio.sleep(0)  # let the answered tasks run before the next batch


async def answer(transport: Any, batcher: Batcher, body: bytes) -> None:
    tensor = orjson.loads(body)["inputs"][0]
    rows = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
    result = await batcher.put(rows)
    payload = orjson.dumps(
        {"model_name": "double", "outputs": [{"name": "OUTPUT0", "datatype": "FP32",
                                              "shape": list(result.shape),
                                              "data": result.reshape(-1)}]},
        option=orjson.OPT_SERIALIZE_NUMPY)
    if not transport.is_closing():
        transport.write(_HEAD + str(len(payload)).encode() + b"\r\n\r\n" + payload)


class Connection(asyncio.Protocol):
    def __init__(self, batcher: Batcher) -> None:
        self.batcher = batcher
        self.parser = httptools.HttpRequestParser(self)
        self.chunks: list[bytes] = []
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        body, self.chunks = b"".join(self.chunks), []
        if self.parser.get_method() != b"POST":
            self.transport.write(_EMPTY)
            return
        asyncio.get_running_loop().create_task(answer(self.transport, self.batcher, body))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    batcher = Batcher()
    runner = loop.create_task(batcher.run())
    server = await loop.create_server(lambda: Connection(batcher), "127.0.0.1", port,
                                      backlog=4096)
    try:
        await server.serve_forever()
    finally:
        runner.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    uvloop.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
