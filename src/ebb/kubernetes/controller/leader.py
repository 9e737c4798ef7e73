"""Leader election on a ``coordination.k8s.io/v1`` Lease, as client-go does it (SPEC §4.3).

Every ``retry_period_s`` a replica reads the Lease: it takes a free or expired Lease, renews its
own, and otherwise waits. Expiry is judged on this replica's own clock, from when it last saw
the record change (no comparison of two machines' clocks). Writes are allowed only while
``is_leader()``: the last renewal succeeded less than ``renew_deadline_s`` ago, and the latest
attempt did not fail, so a replica stops writing the moment a renewal fails. Leaving releases
the Lease so the other replica takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from ebb.core.clock import Clock
from ebb.kubernetes.controller.api import ApiError, KubeApi, Lease

log = logging.getLogger("ebb.kubernetes.controller")


class LeadershipObserver(Protocol):
    def leadership(self, leader: bool) -> None: ...


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0


class LeaderElector:
    def __init__(self, api: KubeApi, namespace: str, name: str, identity: str, clock: Clock,
                 timing: LeaseTiming, observer: LeadershipObserver,
                 wall: Callable[[], float] = time.time) -> None:
        self._api, self._namespace, self._name = api, namespace, name
        self.identity = identity
        self._clock, self._timing, self._observer, self._wall = clock, timing, observer, wall
        self._renewed_at: float | None = None
        self._last_failed = False
        self._observed: tuple[str, float] | None = None
        self._observed_at = 0.0
        self._was_leader = False

    def is_leader(self) -> bool:
        """Safe to write now: renewed within the deadline, and the last attempt succeeded."""
        return (self._renewed_at is not None and not self._last_failed
                and self._clock.now() - self._renewed_at < self._timing.renew_deadline_s)

    def _expired(self, lease: Lease, now: float) -> bool:
        seen = (lease.holder, lease.renew_time)
        if seen != self._observed:
            self._observed, self._observed_at = seen, now
        if not lease.holder:
            return True
        return now - self._observed_at >= max(lease.duration_s, 1)

    def _record(self, lease: Lease | None) -> Lease:
        wall = self._wall()
        duration = round(self._timing.duration_s)
        if lease is not None and lease.holder == self.identity:
            return replace(lease, renew_time=wall, duration_s=duration)
        transitions = lease.transitions + 1 if lease is not None else 0
        version = lease.resource_version if lease is not None else ""
        return Lease(self.identity, duration, wall, wall, transitions, version)

    async def try_acquire_or_renew(self) -> bool:
        """One round; True when this replica holds the Lease afterwards."""
        now = self._clock.now()
        try:
            lease = await self._api.get_lease(self._namespace, self._name)
            if lease is None:
                await self._api.create_lease(self._namespace, self._name, self._record(None))
            elif lease.holder == self.identity or self._expired(lease, now):
                await self._api.replace_lease(self._namespace, self._name, self._record(lease))
            else:
                self._renewed_at = None
                return False
        except ApiError as error:
            self._last_failed = True
            log.warning("lease %s: %s", self._name, error)
            return False
        self._renewed_at, self._last_failed = now, False
        return True

    async def run(self, stopping: asyncio.Event) -> None:
        """Try every retry period until ``stopping``; then release the Lease if held."""
        while not stopping.is_set():
            await self.try_acquire_or_renew()
            self._report()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._timing.retry_period_s)
        await self.release()

    def _report(self) -> None:
        leader = self.is_leader()
        if leader != self._was_leader:
            log.info("%s %s the lease %s", self.identity,
                     "holds" if leader else "does not hold", self._name)
            self._was_leader = leader
        self._observer.leadership(leader)

    async def release(self) -> None:
        """Hand the Lease back (holder emptied) so a standby takes it without waiting."""
        if self._renewed_at is None:
            return
        self._renewed_at = None
        self._observer.leadership(False)
        try:
            lease = await self._api.get_lease(self._namespace, self._name)
            if lease is not None and lease.holder == self.identity:
                await self._api.replace_lease(self._namespace, self._name,
                                              replace(lease, holder="", duration_s=1))
        except ApiError as error:
            log.warning("could not release lease %s: %s", self._name, error)
