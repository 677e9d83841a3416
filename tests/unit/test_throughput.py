"""BullMQ's metrics layout (Node's collectMetrics/getMetrics) read into minutes and buckets."""

from __future__ import annotations

from ailawyer.queues.throughput import MINUTE_MS, _buckets, per_minute

OPEN = 29_000_000  # a minute number since the epoch


def meta(count: int, prev_minute: int | None, prev_count: int) -> list[object]:
    prev_ts = None if prev_minute is None else str(prev_minute * MINUTE_MS + 12_345)
    return [str(count), prev_ts, str(prev_count)]


def test_nothing_counted_yet_is_all_zeros() -> None:
    assert per_minute([None, None, None], [], OPEN - 4, OPEN) == [0] * 5


def test_the_open_minute_is_count_minus_prev_count_and_the_list_is_newest_first() -> None:
    # 12 jobs so far; 9 were counted before the open minute: 3 in it.
    # data[0] is the minute before the open one, data[1] the one before that, ...
    data = ["4", "0", "5"]
    assert per_minute(meta(12, OPEN, 9), data, OPEN - 4, OPEN) == [0, 5, 0, 4, 3]


def test_minutes_after_the_open_one_had_no_job() -> None:
    data = ["4"]
    # Now is two minutes after the open minute.
    assert per_minute(meta(7, OPEN, 5), data, OPEN - 2, OPEN + 2) == [0, 4, 2, 0, 0]


def test_the_window_reads_only_as_far_back_as_it_reaches() -> None:
    data = ["1", "2", "3", "4", "5", "6"]
    assert per_minute(meta(30, OPEN, 30), data, OPEN - 2, OPEN) == [2, 1, 0]


def test_an_open_minute_ahead_of_our_clock_counts_in_the_current_minute() -> None:
    assert per_minute(meta(3, OPEN + 1, 0), [], OPEN - 1, OPEN) == [0, 3]


def test_unreadable_entries_count_as_zero() -> None:
    assert per_minute(meta(2, OPEN, 2), ["x", None], OPEN - 2, OPEN) == [0, 0, 0]


def test_buckets_add_up_consecutive_minutes() -> None:
    assert _buckets([1, 2, 3, 4, 5, 6], 3) == [6, 15]
    assert _buckets([1] * 60, 15) == [15, 15, 15, 15]
