"""When Ebb's policy lets an idle worker go: a keep-alive priced like ski rental.

Keeping an idle worker costs one worker-second per second; releasing it and needing it again
costs a cold start ``C`` of worker-seconds (it is paid while it starts) plus the requests that
wait for it. Not knowing when demand returns, keeping a worker idle for ``C`` seconds and then
releasing it never pays more than twice the best choice in hindsight (the break-even rule of
ski rental). When the gaps between bursts are seen, the keep-alive is chosen against them:

    cost(T, s) = s            if s <= T    (kept through a spell of s idle seconds)
               = T + C        otherwise    (kept T, released, started again)
    T = argmin over T in {C} + {observed spells <= cap} of mean over spells of cost(T, s)

A spell is measured from a release to the next order (plus the keep-alive that preceded the
release); one not ended within `cap` seconds counts as endless. With no spells yet ``T = C``.
``C`` itself is measured: from the tick that first sees workers starting to the tick that sees
none (an exponential average of such starts), with a prior until one is seen.

    keep_alive_s(spells=(8.0, 9.0), cold_start_s=5.0, cap_s=30.0)   # -> 9.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

MAX_SPELLS = 8
"""Spells remembered (the most recent)."""


@dataclass(frozen=True, slots=True)
class ReleaseMemory:
    """What the keep-alive rule remembers between ticks."""

    cold_start_s: float | None = None
    """Measured cold start (exponential average), None until one is seen."""
    starting_since: float | None = None
    """When the current run of starting workers was first seen."""
    released_at: float | None = None
    """The first release since the last order; ends a spell at the next order."""
    keep_alive_at_release: float = 0.0
    spells: tuple[float, ...] = ()
    """Recent idle spells, seconds (inf: none ended within the cap)."""


def keep_alive_s(spells: tuple[float, ...], cold_start_s: float, cap_s: float) -> float:
    """The keep-alive that would have cost least over `spells` (see the module docstring)."""
    cold = max(0.0, cold_start_s)
    candidates = {cold, *(s for s in spells if cold < s <= cap_s)}
    if not spells:
        return min(cold, cap_s)

    def cost(t: float) -> float:
        return sum(s if s <= t else t + cold for s in spells) / len(spells)
    best = min(sorted(candidates), key=cost)
    return min(best, cap_s)


def observe_starts(memory: ReleaseMemory, now: float, starting: int) -> ReleaseMemory:
    """Measure cold starts from the starting-worker count seen each tick."""
    if starting > 0:
        return memory if memory.starting_since is not None else replace(
            memory, starting_since=now)
    if memory.starting_since is None:
        return memory
    seen = now - memory.starting_since
    before = memory.cold_start_s
    measured = seen if before is None else 0.5 * before + 0.5 * seen
    return replace(memory, cold_start_s=measured, starting_since=None)


def on_order(memory: ReleaseMemory, now: float, cap_s: float) -> ReleaseMemory:
    """A scale-up: the spell since the last release (if any) ends here."""
    if memory.released_at is None:
        return memory
    spell = memory.keep_alive_at_release + (now - memory.released_at)
    return _record(replace(memory, released_at=None), spell if spell <= cap_s else math.inf)


def on_release(memory: ReleaseMemory, now: float, keep_alive: float) -> ReleaseMemory:
    """A scale-in: a spell starts (the first release since the last order)."""
    if memory.released_at is not None:
        return memory
    return replace(memory, released_at=now, keep_alive_at_release=keep_alive)


def expire(memory: ReleaseMemory, now: float, cap_s: float) -> ReleaseMemory:
    """A spell still open after `cap_s` seconds is endless as far as the rule goes."""
    if memory.released_at is None or now - memory.released_at <= cap_s:
        return memory
    return _record(replace(memory, released_at=None), math.inf)


def _record(memory: ReleaseMemory, spell: float) -> ReleaseMemory:
    return replace(memory, spells=(*memory.spells, spell)[-MAX_SPELLS:])
