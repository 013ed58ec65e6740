"""The video rules: snapshot cadence, camera health (down, black, frozen), retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from coalwatch.domain.video import (
    Check,
    Health,
    Stored,
    VideoLimits,
    check,
    check_due,
    snapshot_due,
    to_delete,
)

T0 = datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
RUNNING = timedelta(seconds=60)
STANDING = timedelta(seconds=600)
LIMITS = VideoLimits(black_luminance=16, frozen_difference=0.5, frozen_repeats=3)


def test_the_first_snapshot_is_due_at_once() -> None:
    assert snapshot_due(None, T0, running=False, every_running=RUNNING, every_standing=STANDING)


def test_a_running_conveyor_is_pictured_often() -> None:
    last = T0
    assert not snapshot_due(last, T0 + timedelta(seconds=59), True, RUNNING, STANDING)
    assert snapshot_due(last, T0 + timedelta(seconds=60), True, RUNNING, STANDING)


def test_a_standing_conveyor_is_pictured_seldom() -> None:
    last = T0
    assert not snapshot_due(last, T0 + timedelta(seconds=599), False, RUNNING, STANDING)
    assert snapshot_due(last, T0 + timedelta(seconds=600), False, RUNNING, STANDING)


def test_a_camera_is_checked_between_snapshots() -> None:
    every = timedelta(seconds=60)
    assert check_due(None, T0, every)
    assert not check_due(T0, T0 + timedelta(seconds=59), every)
    assert check_due(T0, T0 + timedelta(seconds=60), every)


def _look(**kwargs: object) -> Check:
    values: dict[str, object] = {
        "answered": True,
        "luminance": 90.0,
        "difference": 6.0,
        "running": True,
        "unchanged": 0,
        "previous": Health.OK,
        "limits": LIMITS,
    }
    return check(**(values | kwargs))  # type: ignore[arg-type]


def test_no_answer_is_down() -> None:
    assert _look(answered=False, luminance=None).health is Health.DOWN


def test_a_dark_picture_is_black() -> None:
    # 15.9 < 16 is black; 16 itself is not
    assert _look(luminance=15.9).health is Health.BLACK
    assert _look(luminance=16.0).health is Health.OK


def test_a_moving_picture_is_ok_and_resets_the_count() -> None:
    assert _look(difference=0.5, unchanged=1) == Check(Health.OK, 0)


def test_the_first_picture_has_nothing_to_compare_with() -> None:
    assert _look(difference=None) == Check(Health.OK, 0)


def test_identical_frames_while_running_freeze_after_the_repeats() -> None:
    # frozen_repeats = 3 identical frames: the 1st comparison sees 2, the 2nd sees 3
    first = _look(difference=0.0, unchanged=0)
    assert first == Check(Health.OK, 1)
    second = _look(difference=0.0, unchanged=first.unchanged)
    assert second == Check(Health.FROZEN, 2)


def test_a_standing_belt_may_look_the_same() -> None:
    assert _look(difference=0.0, running=False, unchanged=1) == Check(Health.OK, 1)


def test_a_frozen_picture_stays_frozen_until_it_changes() -> None:
    stood = _look(difference=0.0, running=False, unchanged=2, previous=Health.FROZEN)
    assert stood == Check(Health.FROZEN, 2)
    assert _look(difference=3.0, unchanged=2, previous=Health.FROZEN) == Check(Health.OK, 0)


def _stored(n: int, size: int = 100) -> list[Stored]:
    return [Stored(i, T0 + timedelta(minutes=i), size) for i in range(1, n + 1)]


def test_retention_deletes_what_is_older_than_the_cutoff() -> None:
    items = _stored(5)
    # cutoff at minute 3: pictures 1 and 2 are older; 500 bytes fit the quota
    assert to_delete(items, 500, T0 + timedelta(minutes=3), 10_000) == [1, 2]


def test_retention_deletes_the_oldest_first_above_the_quota() -> None:
    items = _stored(5)
    # 5 × 100 = 500 bytes, quota 250: 500 → 400 → 300 → 200 ≤ 250 after deleting 1, 2, 3
    assert to_delete(items, 500, T0, 250) == [1, 2, 3]


def test_retention_keeps_everything_within_age_and_quota() -> None:
    assert to_delete(_stored(3), 300, T0, 300) == []
