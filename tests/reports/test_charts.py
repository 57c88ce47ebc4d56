"""Chart geometry and number formatting: pure functions, no database, no Flask."""
from __future__ import annotations

from datetime import date

from lms.reports.charts import (
    bar_chart,
    format_day,
    format_delta,
    format_number,
    format_pct,
    format_short_day,
    line_chart,
    shorten,
)


def test_numbers_are_written_the_vietnamese_way():
    assert format_number(12345) == "12.345"
    assert format_number(12345, "en") == "12,345"
    assert format_pct(45.5) == "45,5%"
    assert format_pct(45.5, "en") == "45.5%"
    assert format_pct(100.0) == "100%"
    assert format_pct(None) == format_number(None) == format_delta(None) == "–"
    assert format_delta(2.5) == "+2,5"
    assert format_delta(-1.0) == "−1"
    assert format_delta(0.01) == "0"


def test_dates_are_dd_mm_yyyy_in_vietnamese():
    assert format_day(date(2025, 6, 30)) == "30/06/2025"
    assert format_day(date(2025, 6, 3), "en") == "3 Jun 2025"
    assert format_short_day(date(2025, 6, 3)) == "03/06"


def test_each_bar_is_as_long_as_its_share_of_the_track():
    chart = bar_chart([("Phòng A", 50.0), ("Phòng B", 100.0), ("Phòng C", None), ("Phòng D", 0.0)],
                      title="Hoàn thành")
    a, b, c, d = chart.bars
    assert a.width == chart.track / 2 and b.width == chart.track and c.width == d.width == 0
    assert (a.value_text, c.value_text) == ("50%", "–")
    tops = [bar.y for bar in chart.bars]
    assert tops == sorted(tops) and len(set(tops)) == 4               # one row each, downwards
    assert all(bar.label_y < bar.y for bar in chart.bars)              # the label above its bar
    assert chart.bars[-1].y + chart.bar_height <= chart.height
    assert chart.marks == (chart.track / 4, chart.track / 2, chart.track * 3 / 4)


def test_values_outside_0_to_100_stay_on_the_track_but_are_written_as_they_are():
    chart = bar_chart([("Lạ", 130.0), ("Âm", -5.0)], title="t")
    assert chart.bars[0].width == chart.track and chart.bars[0].value_text == "130%"
    assert chart.bars[1].width == 0


def test_long_unit_names_are_shortened_in_the_chart_but_kept_whole_in_the_title():
    name = "Đại sứ quán nước Cộng hòa xã hội chủ nghĩa Việt Nam tại Liên bang Cộng hòa Đức"
    bar = bar_chart([(name, 10.0)], title="t", label_chars=40).bars[0]
    assert len(bar.label) == 40 and bar.label.endswith("…")
    assert bar.full_label == name
    assert shorten("  ngắn   gọn ", 40) == "ngắn gọn"


def test_an_empty_bar_chart_has_a_height():
    assert bar_chart([], title="t").height > 0


def test_the_line_rises_with_completion_and_breaks_where_nothing_was_assigned():
    series = [("01/06", None), ("08/06", 0.0), ("15/06", 50.0), ("22/06", 100.0), ("29/06", None),
              ("06/07", 75.0)]
    chart = line_chart(series, title="Theo tuần")
    assert [p.label for p in chart.points] == ["08/06", "15/06", "22/06", "06/07"]
    ys = [p.y for p in chart.points]
    assert ys[0] == chart.bottom and ys[2] == chart.top and ys[0] > ys[1] > ys[2]
    assert len(chart.segments) == 2                       # the None week cuts the line
    assert chart.segments[0].count(",") == 3 and chart.segments[1].count(",") == 1
    xs = [p.x for p in chart.points]
    assert xs == sorted(xs) and xs[-1] == chart.right
    assert chart.last.value_text == "75%"


def test_the_x_axis_labels_the_last_week_and_thins_out_the_rest():
    series = [(f"{d:02d}/06", float(d)) for d in range(1, 13)]
    chart = line_chart(series, title="t", max_labels=4)
    labels = [text for _, text in chart.x_labels]
    assert labels[-1] == "12/06" and len(labels) <= 4
    assert [text for _, text in chart.y_ticks] == ["0%", "25%", "50%", "75%", "100%"]


def test_a_single_week_is_a_point_in_the_middle():
    chart = line_chart([("30/06", 40.0)], title="t")
    assert len(chart.points) == 1
    assert chart.points[0].x == chart.left + chart.plot_width / 2
    assert line_chart([], title="t").last is None
