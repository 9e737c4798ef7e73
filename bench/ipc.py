"""Gateway <-> worker tensor transfer: pickle-5 out-of-band over a socketpair vs alternatives.

Runs, side by side in one process pair, a round trip (gateway sends a batch of tensors, the worker
answers with an equally large tensor) for several tensor sizes:

- ``oob``: what Ebb uses (``ebb.serving.ipc``): pickle protocol 5, arrays as out-of-band
  buffers sent with scatter I/O;
- ``inband``: the same frames but arrays pickled in-band (one extra copy each way);
- ``shm``: a shared-memory block per direction; only offsets and shapes travel over the socket,
  arrays are copied into / viewed from the block.

Usage: ``python bench/ipc.py [--seconds 1.5]``. Pin it with ``taskset -c 0,1``. Prints round
trips per second and the ratio to ``oob``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import pickle
import socket
import time
from multiprocessing import shared_memory
from typing import Any

import numpy as np

from ebb.serving.ipc import recv_message, send_message

SIZES = {"64 B": 16, "64 KiB": 16 * 1024, "4 MiB": 1024 * 1024}  # float32 elements
SHM_BYTES = 64 * 1024 * 1024


class _InBand:
    """Wrapper that pickles its arrays in-band (protocol 4 semantics)."""

    def __init__(self, value: Any) -> None:
        self.payload = pickle.dumps(value, protocol=4)

    def get(self) -> Any:
        return pickle.loads(self.payload)


def _worker(sock: socket.socket, mode: str, shm_in: str, shm_out: str) -> None:
    block_in = shared_memory.SharedMemory(shm_in) if mode == "shm" else None
    block_out = shared_memory.SharedMemory(shm_out) if mode == "shm" else None
    while True:
        try:
            message = recv_message(sock)
        except EOFError:
            break
        if mode == "oob":
            arrays = message
            send_message(sock, [array * 2 for array in arrays])
        elif mode == "inband":
            arrays = message.get()
            send_message(sock, _InBand([array * 2 for array in arrays]))
        else:
            assert block_in is not None and block_out is not None
            specs = message
            offset = 0
            answers = []
            for start, shape in specs:
                view = np.ndarray(shape, np.float32, block_in.buf, start)
                result = np.ndarray(shape, np.float32, block_out.buf, offset)
                np.multiply(view, 2, out=result)
                answers.append((offset, shape))
                offset += result.nbytes
            send_message(sock, answers)
    for block in (block_in, block_out):
        if block is not None:
            block.close()


def _measure(mode: str, elements: int, seconds: float) -> float:
    parent, child = socket.socketpair()
    shm_in = shared_memory.SharedMemory(create=True, size=SHM_BYTES)
    shm_out = shared_memory.SharedMemory(create=True, size=SHM_BYTES)
    process = multiprocessing.get_context("fork").Process(
        target=_worker, args=(child, mode, shm_in.name, shm_out.name), daemon=True)
    process.start()
    batch = [np.random.default_rng(0).random(elements, dtype=np.float32) for _ in range(4)]
    trips = 0
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        if mode == "oob":
            send_message(parent, batch)
            answers = recv_message(parent)
        elif mode == "inband":
            send_message(parent, _InBand(batch))
            answers = recv_message(parent).get()
        else:
            specs = []
            offset = 0
            for array in batch:
                np.ndarray(array.shape, np.float32, shm_in.buf, offset)[:] = array
                specs.append((offset, array.shape))
                offset += array.nbytes
            send_message(parent, specs)
            answers = [np.array(np.ndarray(shape, np.float32, shm_out.buf, start))
                       for start, shape in recv_message(parent)]
        assert answers[0][0] == batch[0][0] * 2
        trips += 1
    elapsed = time.perf_counter() - began
    parent.close()
    process.join(5)
    for block in (shm_in, shm_out):
        block.close()
        block.unlink()
    return trips / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()
    print("| batch of 4 tensors, each | oob round trips/s | inband / oob | shm / oob |")
    print("|---|---|---|---|")
    for label, elements in SIZES.items():
        rates = {mode: _measure(mode, elements, args.seconds) for mode in ("oob", "inband", "shm")}
        print(f"| {label} | {rates['oob']:,.0f} | {rates['inband'] / rates['oob']:.2f} | "
              f"{rates['shm'] / rates['oob']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
