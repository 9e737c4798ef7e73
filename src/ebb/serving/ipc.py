"""Framing between the gateway and its worker processes.

A message is pickled with protocol 5; numpy arrays of 64 KiB or more travel as out-of-band
buffers written with a scatter send, so the sender never copies large tensor data into the pickle
stream (small ones go in-band: a separate buffer costs more than copying a few bytes). Frame
layout::

    u32 pickle length | u32 buffer count | u64 length per buffer | pickle | buffers...

Stacked batches carry their large tensors in shared memory instead (``Arena``, below); only
their position travels in the frame. ``bench/ipc.py`` measured why: see bench/README.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import pickle
import socket
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

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


class Arena:
    """A growable shared-memory region (an anonymous memfd) that both processes map.

    Large tensors cross the process boundary here instead of through the socket: the gateway
    stacks a batch's inputs straight into its input arena and the worker answers into its output
    arena, so tensor bytes are copied once each way and never pass through the kernel's socket
    buffers. Being anonymous, the region vanishes with the last process that holds it: nothing
    to leak in /dev/shm when a process is killed.
    """

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = 0
        self.buffer: mmap.mmap | None = None
        self.remap(size)

    @classmethod
    def create(cls, size: int = 1 << 20) -> Arena:
        fd = os.memfd_create("ebb-arena", os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        return cls(fd, size)

    def remap(self, size: int) -> None:
        """Map ``size`` bytes, after the other side grew the region."""
        if size <= self.size:
            return
        old, self.buffer, self.size = self.buffer, mmap.mmap(self.fd, size), size
        if old is not None:
            with contextlib.suppress(BufferError):  # a view may still hold it; the GC will
                old.close()

    def grow(self, needed: int) -> None:
        if needed > self.size:
            size = max(needed, 2 * self.size)
            os.ftruncate(self.fd, size)
            self.remap(size)

    def view(self, slot: ArenaSlot) -> np.ndarray:
        assert self.buffer is not None
        return np.ndarray(slot.shape, np.dtype(slot.dtype), self.buffer, slot.offset)

    def close(self) -> None:
        if self.buffer is not None:
            with contextlib.suppress(BufferError):
                self.buffer.close()
        os.close(self.fd)


@dataclass(frozen=True, slots=True)
class ArenaSlot:
    """Where a tensor lies in an arena; travels in the message instead of the tensor."""

    offset: int
    dtype: str
    shape: tuple[int, ...]


Placed = dict[str, "np.ndarray | ArenaSlot"]


def _goes_to_arena(nbytes: int, dtype: np.dtype) -> bool:
    return nbytes >= OUT_OF_BAND_BYTES and dtype.kind not in "OSU"


def _aligned(nbytes: int) -> int:
    return (nbytes + 63) & ~63


def place_stacked(parts: dict[str, list[np.ndarray]], arena: Arena) -> Placed:
    """Concatenate each input's parts along dimension 0, large ones straight into the arena."""
    shapes = {}
    total = 0
    for name, arrays in parts.items():
        first = arrays[0]
        shape = (sum(array.shape[0] for array in arrays), *first.shape[1:])
        nbytes = int(np.prod(shape)) * first.dtype.itemsize
        if _goes_to_arena(nbytes, first.dtype):
            shapes[name] = shape
            total += _aligned(nbytes)
    arena.grow(total)
    placed: Placed = {}
    offset = 0
    for name, arrays in parts.items():
        if name not in shapes:
            placed[name] = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
            continue
        slot = ArenaSlot(offset, arrays[0].dtype.str, shapes[name])
        np.concatenate(arrays, out=arena.view(slot))
        placed[name] = slot
        offset += _aligned(int(np.prod(slot.shape)) * arrays[0].dtype.itemsize)
    return placed


def place(arrays: dict[str, np.ndarray], arena: Arena) -> Placed:
    return place_stacked({name: [array] for name, array in arrays.items()}, arena)


def fetch(placed: Placed, arena: Arena, size: int, copy: bool) -> dict[str, np.ndarray]:
    """The tensors of a message; ``copy`` when the arena will be reused before they are done."""
    arena.remap(size)
    tensors = {}
    for name, value in placed.items():
        if isinstance(value, ArenaSlot):
            view = arena.view(value)
            tensors[name] = view.copy() if copy else view
        else:
            tensors[name] = value
    return tensors
