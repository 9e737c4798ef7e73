"""Ebb's policy, the rules of issue 13: the backlog projected to when new workers are ready,
batching headroom from the fitted batch curve, the ski-rental keep-alive, the forecast, and
reasons that name the term that drove each decision.

A worker takes 20 ms per request (mu = 50/s) unless a test says otherwise; the SLO is 200 ms.
"""

from __future__ import annotations

import math

import pytest

from ebb.autoscale.policies.ebb import EbbPolicy
from ebb.autoscale.policies.ebb_model import (
    backlog_workers,
    batched_workers,
    fit_service,
    held_growth,
)
from ebb.autoscale.policies.ebb_release import (
    ReleaseMemory,
    expire,
    keep_alive_s,
    on_order,
    on_release,
)
from tests.autoscale.signals import decisions, follow, replay, signal

MS20 = {"service": 0.02}


def test_a_burst_is_sized_for_the_backlog_when_new_workers_are_ready() -> None:
    policy = EbbPolicy(sizing="utilisation", cold_start_s=1.0)
    rows = [
        signal(0.0, 1, arrival=25.0, **MS20),
        # 250/s more than one worker answers: in the 1 s cold start the 125 queued become
        # 125 + 250 x 1 = 375, cleared in 100 ms by 375 / 5 = 75 workers
        signal(0.5, 1, arrival=300.0, queue=125, **MS20),
        # half the cold start later the queue is where the projection said: nothing new
        signal(1.0, 75, ready=1, starting=74, arrival=300.0, queue=250, **MS20),
        # growth faster than projected orders more: 450 queued / 5 = 90
        signal(1.5, 75, ready=1, starting=74, arrival=700.0, queue=450, **MS20),
    ]
    got = decisions(policy, rows)
    assert [d.desired_workers for d in got] == [1, 75, 75, 90]
    assert got[1].reason.startswith("ebb: projected backlog -> 75 (have 1); projected backlog: "
                                    "queue 125 + 250/s x 1.0 s to ready = 375")
    assert "rate 7.50" in got[1].reason


def test_a_small_queue_on_a_keeping_up_pool_projects_nothing() -> None:
    policy = EbbPolicy(sizing="utilisation")
    ticks = [(i * 0.5, {"arrival": 100.0, "queue": q, **MS20})
             for i, q in enumerate([0, 3, 6, 9, 12, 4, 0])]   # growing, but cleared in 100 ms
    assert follow(policy, 3, ticks) == [3] * 7


def test_idle_workers_are_kept_the_longest_until_a_cold_start_is_measured() -> None:
    ticks = [(float(t), {"arrival": 240.0 if t < 2 else 0.0, **MS20}) for t in range(12)]
    keep_alive = follow(EbbPolicy(sizing="utilisation", scale_in_delay_s=6.0), 8, ticks)
    # keep 7 (240 x 1.1 / 40) from t=1 for the 6 s cap: what a restart costs is unknown
    assert keep_alive == [8, 8, 8, 8, 8, 8, 7, 0, 0, 0, 0, 0]
    delay = follow(EbbPolicy(sizing="utilisation", release="delay"), 8, ticks)
    assert delay == [8] * 12


def test_a_cold_start_of_half_the_cap_or_more_keeps_idle_workers_the_cap() -> None:
    def run(cold: float) -> list[int]:
        # a start measured at `cold` s (starting from t=0), then demand gone
        rows = [signal(0.0, 4, starting=1, arrival=120.0, **MS20),
                signal(cold, 4, arrival=120.0, **MS20)]
        rows += [signal(cold + t, 4, **MS20) for t in range(1, 14)]
        return [d.desired_workers for d in decisions(EbbPolicy(sizing="utilisation",
                                                               scale_in_delay_s=12.0), rows)]
    assert run(5.0)[-1] == 0 and run(5.0).index(0) == 6       # C = 5 < 6: kept 5 s
    assert run(6.0).index(0) == 13                             # C = 6 >= 6: kept the 12 s cap


def test_queue_growth_is_projected_a_long_cold_start_ahead_only_once_it_held() -> None:
    # a 5 s start projects growth seen at the last two ticks (1 s); a 20 s start wants it at
    # every tick of the last 2 s
    clump = ((0.0, 30.0), (0.5, 40.0), (1.0, -20.0), (1.5, 40.0))
    assert held_growth(clump[:2], 1.0, 40.0, 5.0)[1] == 40.0
    assert held_growth(clump[:3], 1.5, 40.0, 5.0)[1] == -20.0
    assert held_growth(clump, 2.0, 40.0, 20.0)[1] == -20.0
    steady = tuple((t * 0.5, 40.0) for t in range(4))
    assert held_growth(steady, 2.0, 40.0, 20.0)[1] == 40.0
    assert [at for at, _ in held_growth(steady, 10.0, 40.0, 5.0)[0]] == [10.0]


def test_the_keep_alive_is_the_measured_cold_start() -> None:
    rows = [signal(0.0, 4, starting=1, arrival=120.0, **MS20),
            signal(1.0, 4, starting=1, arrival=120.0, **MS20),
            signal(2.0, 4, arrival=120.0, **MS20),        # ready after 2 s: C = 2
            signal(3.0, 4, **MS20),
            signal(4.0, 4, **MS20)]
    got = decisions(EbbPolicy(sizing="utilisation"), rows)
    assert [d.desired_workers for d in got] == [4, 4, 4, 4, 0]
    assert got[-1].reason.startswith("ebb: keep-alive 2.0 s over -> 0 (have 4)")
    assert got[-2].reason.startswith("ebb: keep-alive 2.0 s holds 4")


def test_the_keep_alive_follows_the_gaps_between_bursts() -> None:
    # gaps of 8 and 9 s with a 5 s cold start: keeping 9 s costs (8 + 9) / 2 = 8.5 per
    # spell, releasing after 5 s costs 5 + 5 = 10
    assert keep_alive_s((8.0, 9.0), 5.0, 30.0) == 9.0
    assert keep_alive_s((math.inf, math.inf, 8.0), 5.0, 30.0) == 5.0
    assert keep_alive_s((), 5.0, 30.0) == 5.0
    assert keep_alive_s((8.0,), 5.0, 3.0) == 3.0       # never above scale_in_delay_s
    memory = on_release(ReleaseMemory(), 10.0, 5.0)
    assert on_order(memory, 14.0, 30.0).spells == (9.0,)   # 5 s kept + 4 s released
    assert expire(memory, 41.0, 30.0).spells == (math.inf,)


@pytest.mark.parametrize("sizing", ["utilisation", "erlang"])
def test_a_noisy_steady_load_does_not_flap_with_the_keep_alive(sizing: str) -> None:
    ticks = [(i * 0.5, {"arrival": 150.0 if i % 2 else 170.0, **MS20}) for i in range(200)]
    got = follow(EbbPolicy(sizing=sizing), 4, ticks)
    changes = sum(1 for before, after in zip([4, *got], got, strict=False) if before != after)
    assert changes <= 1
    assert len(set(got[10:])) == 1


def test_the_batch_curve_is_fitted_and_its_headroom_used() -> None:
    fit = fit_service(((1.0, 0.022), (3.0, 0.026), (2.0, 0.024)))
    assert fit is not None
    assert (fit.a, fit.b) == (pytest.approx(0.020), pytest.approx(0.002))
    assert fit_service(((2.0, 0.024), (2.2, 0.0244))) is None   # too little spread
    # 110/s: r b = 0.22 of a worker, within 1 - 2a / slo = 0.6 of it
    assert batched_workers(110.0, fit, 0.1, 0.95, 32) == pytest.approx(110 * 0.002 / 0.6)
    # six waiting go in one batch of 32 ms: under the 50 ms budget with one worker
    assert backlog_workers(6.0, fit, 0.05, 32) < 1


def test_a_batching_worker_is_not_sized_as_if_it_answered_one_at_a_time() -> None:
    rows = [signal(t * 0.5, 1, arrival=110.0, service=0.02 + 0.002 * n, batch=n, slo=0.1)
            for t, n in enumerate([2.0, 2.8, 1.5, 3.0, 2.2])]
    assert replay(EbbPolicy(), rows) == [1] * 5
    got = decisions(EbbPolicy(), rows)
    assert "capacity unknown until batch sizes vary" in got[0].reason
    assert "batches cost 20.0 + 2.00 x n ms" in got[-1].reason
    # the same signals read without the curve: 110/s at 2.2 per 24.4 ms needs Erlang's 2+
    assert replay(EbbPolicy(batching=False), rows)[-1] >= 2


def test_the_fitted_curve_outlives_a_steady_batch_size() -> None:
    spread = [(2.0, 0.024), (3.0, 0.026), (1.5, 0.023)]
    steady = [(2.2, 0.0244)] * 60          # 30 s at one batch size: nothing new to fit
    rows = [signal(t * 0.5, 1, arrival=110.0, service=s, batch=n, slo=0.1)
            for t, (n, s) in enumerate(spread + steady)]
    got = decisions(EbbPolicy(), rows)
    assert "batches cost 20.0 + 2.00 x n ms" in got[-1].reason
    assert {d.desired_workers for d in got} == {1}


def test_the_forecast_starts_workers_ahead_of_a_rising_trend() -> None:
    ticks = [(i * 0.5, {"arrival": 100.0 + 8.0 * i * 0.5, **MS20}) for i in range(50)]
    plain = follow(EbbPolicy(sizing="utilisation"), 3, ticks)
    ahead = decisions(EbbPolicy(sizing="utilisation", forecast=True),
                      [signal(now, w, **fields)
                       for (now, fields), w in zip(ticks, [3, *plain], strict=False)])
    assert any(d.reason.startswith("ebb: forecast ->") for d in ahead)
    assert not any(d.reason.startswith("ebb: forecast ->") for d in ahead[:20])  # 10 s first
    assert max(d.desired_workers for d in ahead) > max(plain)
