"""The keys in force, re-read when the keys file changes: revocation without a restart.

    ring = KeyRing.load(path)                 # raises KeyFileError: the server does not start
    background.spawn(ring.watch(stopping, 1.0), "keys file")

The file's signature (inode, size, mtime) is polled; ``ebb keys`` replaces the file
atomically, so a poll sees the old file or the new one. A new file that is broken or missing is
logged once (until it changes again) and the keys loaded before stay in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from ebb.security.keys import ApiKey, KeyFileError, KeySet, read_keys_file

log = logging.getLogger("ebb.security")

Signature = tuple[int, int, int] | None


def _signature(path: Path) -> Signature:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


class KeyRing:
    def __init__(self, path: Path, keys: KeySet, signature: Signature) -> None:
        self.path = path
        self.keys = keys
        self._signature = signature
        self._listeners: list[Callable[[KeySet], None]] = []
        self._in_memory: dict[str, ApiKey] = {}

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        signature = _signature(path)
        return cls(path, read_keys_file(path), signature)

    def on_change(self, listener: Callable[[KeySet], None]) -> None:
        """Call `listener` with the new keys after each successful re-read."""
        self._listeners.append(listener)

    def add_in_memory(self, key: ApiKey) -> None:
        """A key the server made for itself (``ebb serve --prometheus``): never written to the
        file, kept over every re-read (over a file key of the same id), gone with the process."""
        self._in_memory[key.id] = key
        self._install(self.keys)

    def _install(self, keys: KeySet) -> None:
        self.keys = KeySet({**keys.keys, **self._in_memory}) if self._in_memory else keys
        for listener in self._listeners:
            listener(self.keys)

    def poll(self) -> bool:
        """Re-read the file if it changed; True when new keys are in force."""
        signature = _signature(self.path)
        if signature == self._signature:
            return False
        self._signature = signature
        try:
            keys = read_keys_file(self.path)
        except KeyFileError as error:
            log.error("%s; keeping the %d key(s) loaded before", error, len(self.keys))
            return False
        self._install(keys)
        log.info("keys file %s re-read: %d key(s) in force", self.path, len(self.keys))
        return True

    async def watch(self, stopping: asyncio.Event, interval_s: float) -> None:
        """Poll every `interval_s` until `stopping` is set."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)
            if not stopping.is_set():
                self.poll()
