"""Framing between the gateway and its worker processes.

A message is pickled with protocol 5; numpy arrays of 64 KiB or more travel as out-of-band
buffers written with a scatter send, so the sender never copies large tensor data into the pickle
stream (small ones go in-band: a separate buffer costs more than copying a few bytes). Frame
layout::

    u32 pickle length | u32 buffer count | u64 length per buffer | pickle | buffers...

``bench/ipc.py`` compares this with shared memory; see bench/README.md for why this won.
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from typing import Any

_HEAD = struct.Struct("<II")
OUT_OF_BAND_BYTES = 64 * 1024


def encode(message: Any) -> list[bytes | memoryview]:
    raws: list[memoryview] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:
        raw = buffer.raw()
        if raw.nbytes < OUT_OF_BAND_BYTES:
            return True  # in-band
        raws.append(raw)
        return False

    body = pickle.dumps(message, protocol=5, buffer_callback=out_of_band)
    head = _HEAD.pack(len(body), len(raws))
    if raws:
        head += struct.pack(f"<{len(raws)}Q", *(raw.nbytes for raw in raws))
    return [head, body, *raws]


def _decode(head: bytes, sizes: tuple[int, ...], payload: bytes | bytearray) -> Any:
    body_length, _ = _HEAD.unpack(head)
    view = memoryview(payload)
    buffers = []
    offset = body_length
    for size in sizes:
        buffers.append(view[offset:offset + size])
        offset += size
    return pickle.loads(view[:body_length], buffers=buffers)


async def read_message(reader: asyncio.StreamReader) -> Any:
    head = await reader.readexactly(_HEAD.size)
    body_length, buffer_count = _HEAD.unpack(head)
    sizes: tuple[int, ...] = ()
    if buffer_count:
        sizes = struct.unpack(f"<{buffer_count}Q", await reader.readexactly(8 * buffer_count))
    payload = await reader.readexactly(body_length + sum(sizes))
    return _decode(head, sizes, payload)


def write_message(writer: asyncio.StreamWriter, message: Any) -> None:
    parts = encode(message)
    if len(parts) == 2:
        writer.write(parts[0] + parts[1])  # type: ignore[operator]
    else:
        writer.writelines(parts)


def send_message(sock: socket.socket, message: Any) -> None:
    """Blocking scatter send, for the worker side."""
    parts = [memoryview(part).cast("B") for part in encode(message)]
    while parts:
        sent = sock.sendmsg(parts)
        while parts and sent >= parts[0].nbytes:
            sent -= parts[0].nbytes
            parts.pop(0)
        if parts and sent:
            parts[0] = parts[0][sent:]


def _recv_exactly(sock: socket.socket, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    while received < size:
        got = sock.recv_into(view[received:])
        if not got:
            raise EOFError("gateway closed the connection")
        received += got
    return buffer


def recv_message(sock: socket.socket) -> Any:
    """Blocking receive, for the worker side; raises EOFError when the gateway is gone."""
    head = bytes(_recv_exactly(sock, _HEAD.size))
    body_length, buffer_count = _HEAD.unpack(head)
    sizes: tuple[int, ...] = ()
    if buffer_count:
        sizes = struct.unpack(f"<{buffer_count}Q", _recv_exactly(sock, 8 * buffer_count))
    return _decode(head, sizes, _recv_exactly(sock, body_length + sum(sizes)))
