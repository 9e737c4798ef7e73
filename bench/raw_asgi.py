"""The practical ceiling for ``bench/serving.py``: a bare ASGI app answering the double request.

uvicorn + httptools + uvloop + orjson and nothing else: no routing, no validation, no queue, no
worker process. It reads the OIP JSON request of ``builtin:double`` (one FP32 tensor) and answers
the tensor times two, so a load generator sees the same exchange as with Ebb or KServe. Whatever
a real server adds on top costs throughput against this figure.

Usage: ``python bench/raw_asgi.py --port P`` (binds 127.0.0.1).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import uvicorn

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]


async def read_body(receive: Receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def double_response(body: bytes) -> bytes:
    tensor = orjson.loads(body)["inputs"][0]
    output = {"name": "OUTPUT0", "datatype": "FP32", "shape": tensor["shape"],
              "data": [value * 2 for value in tensor["data"]]}
    return orjson.dumps({"model_name": "double", "outputs": [output]})


async def app(scope: Message, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    answer = double_response(body) if scope["method"] == "POST" else b"{}"
    await send({"type": "http.response.start", "status": 200, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": answer})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools",
                lifespan="off", access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
