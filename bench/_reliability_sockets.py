"""Connection-level attacks of ``bench/reliability.py``, on raw sockets: slowloris heads, huge
headers, slow bodies, clients that never read, and silent or idle HTTP/2 connections to the gRPC
port. Each returns an ``Outcome`` (``_reliability_attacks``); the server must cut the slow ones
off within its timeouts while serving everyone else."""

from __future__ import annotations

import contextlib
import selectors
import socket
import time

from _reliability_attacks import INFER, Outcome, read_status
from _reliability_load import infer_body

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(3) + b"\x04" + bytes(5)  # + SETTINGS
_HEAD = b"POST " + INFER.encode() + b" HTTP/1.1\r\nHost: localhost\r\n"


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def closing_times(socks: list[socket.socket], began: float, limit_s: float,
                  trickle: bytes = b"") -> list[float]:
    """Seconds from ``began`` until the server closed each socket (inf: open at ``limit_s``),
    sending ``trickle`` on each every 0.2 s meanwhile and dropping what the server sends."""
    open_socks = {sock.fileno(): sock for sock in socks}
    closed: list[float] = []
    next_trickle = time.monotonic()
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        while open_socks and time.monotonic() - began < limit_s:
            if trickle and time.monotonic() >= next_trickle:
                for sock in open_socks.values():
                    with contextlib.suppress(OSError):
                        sock.send(trickle)
                next_trickle += 0.2
            for key, _ in selector.select(0.05):
                sock = open_socks[key.fd]
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    closed.append(time.monotonic() - began)
                    selector.unregister(sock)
                    del open_socks[key.fd]
    for sock in socks:
        sock.close()
    return closed + [float("inf")] * len(open_socks)


def _cut_off(outcome: Outcome, times: list[float], limit_s: float, what: str) -> None:
    outcome.tried += len(times)
    late = [t for t in times if t > limit_s]
    outcome.statuses["cut off"] += len(times) - len(late)
    if late:
        outcome.wrong.append(f"{len(late)} {what} still open after {limit_s:.1f} s")
    outcome.faults = (f"{len(times)} connections, all closed by {max(times):.1f} s"
                      if not late else f"{len(late)} of {len(times)} still open")


def slowloris(port: int, count: int, header_timeout_s: float) -> Outcome:
    """``count`` connections that send a request head one byte every 0.2 s."""
    outcome = Outcome()
    socks = [_connect(port) for _ in range(count)]
    began = time.monotonic()
    for sock in socks:
        sock.sendall(_HEAD)
    limit = header_timeout_s + 2
    _cut_off(outcome, closing_times(socks, began, limit + 1, trickle=b"X"), limit,
             "slowloris connections")
    return outcome


def huge_headers(port: int, repeat: int, megabytes: int = 100) -> Outcome:
    """A header of ``megabytes`` MB: the server must answer 431 (or close) long before."""
    outcome = Outcome()
    chunk = b"a" * 65536
    for _ in range(repeat):
        sock = _connect(port)
        sock.sendall(b"GET /v2 HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
        sent = 0
        try:
            while sent < megabytes * 2**20:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        status = read_status(sock)
        sock.close()
        outcome.expect("closed" if status is None else str(status), {"431", "closed"},
                       "huge header")
        if sent >= megabytes * 2**20:
            outcome.wrong.append(f"the server read all {megabytes} MB of a header")
    outcome.faults = f"{repeat} x {megabytes} MB headers"
    return outcome


def slow_bodies(port: int, count: int, body_timeout_s: float) -> Outcome:
    """``count`` requests whose body stops after 5 of 1000 bytes: 408 and a close."""
    outcome = Outcome()
    socks = [_connect(port) for _ in range(count)]
    began = time.monotonic()
    for sock in socks:
        sock.sendall(_HEAD + b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                     b'{"inp')
    limit = body_timeout_s + 2
    _cut_off(outcome, closing_times(socks, began, limit + 1), limit, "slow bodies")
    return outcome


def never_reading(port: int, count: int, hold_s: float, requests: int = 200) -> Outcome:
    """``count`` connections that pipeline ``requests`` infers each and never read a byte."""
    outcome = Outcome()
    body = infer_body([1.0] * 16)
    one = (_HEAD + b"Content-Type: application/json\r\nContent-Length: "
           + str(len(body)).encode() + b"\r\n\r\n" + body)
    socks = [_connect(port) for _ in range(count)]
    for sock in socks:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.send(one * requests)
        outcome.tried += requests
    time.sleep(hold_s)
    for sock in socks:
        sock.close()
    outcome.statuses["abandoned"] += count * requests
    outcome.faults = f"{count} connections never read, held {hold_s:.0f} s"
    return outcome


def grpc_silent(port: int, count: int, header_timeout_s: float) -> Outcome:
    """``count`` connections to the gRPC port that never send the HTTP/2 preface."""
    outcome = Outcome()
    socks = [_connect(port) for _ in range(count)]
    limit = header_timeout_s + 2
    _cut_off(outcome, closing_times(socks, time.monotonic(), limit + 1), limit,
             "silent gRPC connections")
    return outcome


def grpc_idle(port: int, count: int, keep_alive_s: float) -> Outcome:
    """``count`` HTTP/2 connections that send the preface and SETTINGS, then nothing."""
    outcome = Outcome()
    socks = [_connect(port) for _ in range(count)]
    began = time.monotonic()
    for sock in socks:
        sock.sendall(H2_PREFACE)
    limit = keep_alive_s + 2
    _cut_off(outcome, closing_times(socks, began, limit + 1), limit, "idle HTTP/2 connections")
    return outcome
