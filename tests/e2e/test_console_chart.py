"""The console's chart and money formatting: pure functions, checked without a server."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

from payments.entrypoints.console.chart import ChartTexts, DayTotals, compact, day_chart
from payments.entrypoints.console.formatting import amount

SVG = "{http://www.w3.org/2000/svg}"
TEXTS = ChartTexts("Khớp <&> ngoại lệ", "Mô tả", "Số tiền khớp", "Ngoại lệ", "không chạy", "max")


def test_amounts_are_written_the_vietnamese_way() -> None:
    assert amount(1_250_000) == "1.250.000 ₫"
    assert amount(0) == "0 ₫"
    assert amount(-5_000) == "-5.000 ₫"
    assert amount(12, "USD") == "12 USD"
    assert amount(None) == ""
    assert compact(1_250_000) == "1,25tr"
    assert compact(2_000_000_000) == "2tỷ"
    assert compact(950) == "950"


def test_bars_scale_to_the_largest_day_and_every_number_is_text() -> None:
    first = date(2025, 3, 1)
    days = [
        DayTotals(first, 1_000_000, 0),
        DayTotals(first + timedelta(days=1), None, 0),
        DayTotals(first + timedelta(days=2), 250_000, 4),
    ]
    svg = day_chart(days, TEXTS, amount)
    tree = ET.fromstring(svg)  # well-formed XML: the title's <&> is escaped
    assert tree.get("role") == "img"
    assert tree.findtext(f"{SVG}title") == "Khớp <&> ngoại lệ"
    assert tree.findtext(f"{SVG}desc") == "Mô tả"
    bars = [r for r in tree.iter(f"{SVG}rect") if r.get("class") == "bar"]
    heights = [int(r.get("height", "0")) for r in bars]
    assert len(bars) == 2  # the day without a run has no bar
    assert heights[0] == 4 * heights[1]
    labels = [t.text for t in tree.iter(f"{SVG}text")]
    tips = [t.text for t in tree.iter(f"{SVG}title")]
    assert "02/03: không chạy" in tips  # the day without a run says so
    assert {"01/03", "02/03", "03/03", "4", "1tr", "250k"} <= set(labels)
    assert "." not in "".join(r.get("height", "") for r in bars)  # integers only


def test_an_empty_or_all_zero_fortnight_still_draws() -> None:
    assert "<svg" in day_chart([], TEXTS, amount)
    zero = day_chart([DayTotals(date(2025, 3, 1), 0, 0)], TEXTS, amount)
    ET.fromstring(zero)
