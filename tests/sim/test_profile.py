"""The simulated day: shifts and their stops, rate noise, and how time is split."""

from __future__ import annotations

import pytest

from coalwatch.sim.profile import RateNoise, Schedule, pieces

H = 3600.0


def test_three_shifts_stop_for_their_last_half_hour() -> None:
    s = Schedule()  # 3 × 8 h from 00:00, stopped 07:30–08:00, 15:30–16:00, 23:30–24:00
    assert s.running(1 * H)
    assert not s.running(7.5 * H)
    assert not s.running(7.9 * H)
    assert s.running(8 * H)
    assert not s.running(15.75 * H)
    assert not s.running(23.5 * H + 1)
    assert s.running(24 * H + 60)  # the next day


def test_next_change_is_the_next_stop_or_start() -> None:
    s = Schedule()
    assert s.next_change(1 * H) == 7.5 * H
    assert s.next_change(7.5 * H) == 8 * H
    assert s.next_change(7.75 * H) == 8 * H


def test_shifts_may_start_at_another_hour() -> None:
    s = Schedule(first_shift_h=6, stop_min=60)  # 06–14, 14–22, 22–06; stops 13–14, 21–22, 05–06
    assert not s.running(5.5 * H)
    assert s.running(6 * H)
    assert not s.running(13.5 * H)


def test_no_stop_means_always_running() -> None:
    s = Schedule(stop_min=0)
    assert s.running(7.99 * H)
    assert s.next_change(0) == float("inf")


def test_a_stop_as_long_as_the_shift_is_refused() -> None:
    with pytest.raises(ValueError):
        Schedule(shift_h=1, stop_min=60)


def test_noise_is_seeded_and_constant_within_its_period() -> None:
    a, b = RateNoise(seed=1, relative_sd=0.1), RateNoise(seed=1, relative_sd=0.1)
    assert [a.factor(t) for t in range(0, 600, 7)] == [b.factor(t) for t in range(0, 600, 7)]
    assert a.factor(0) == a.factor(59.9)
    assert a.factor(60) != a.factor(0)
    assert RateNoise(seed=2).factor(0) != a.factor(0)
    assert a.next_change(61) == 120


def test_noise_stays_within_its_uniform_band() -> None:
    n = RateNoise(seed=7, relative_sd=0.1)
    factors = [n.factor(60.0 * i) for i in range(2000)]
    half_width = 0.1 * 3**0.5  # uniform on 1 ± a has standard deviation a / √3
    assert all(1 - half_width <= f <= 1 + half_width for f in factors)
    assert abs(sum(factors) / len(factors) - 1) < 0.01


def test_no_noise_is_exactly_one() -> None:
    assert RateNoise(relative_sd=0).factor(1234) == 1.0


def test_pieces_split_at_every_change() -> None:
    split = list(pieces(0, 150, lambda t: (t // 60 + 1) * 60, lambda t: 100.0 if t < 100 else 1e9))
    assert split == [(0, 60), (60, 100), (100, 120), (120, 150)]


def test_pieces_make_progress_when_an_edge_rounds_onto_now() -> None:
    # float rounding can make a change function answer "now": the walk must still move on
    split = list(pieces(0.0, 1.0, lambda t: t if t == 0.0 else 1.0))
    assert split[0][1] > 0.0
    assert split[-1][1] == 1.0
    assert len(split) == 2
