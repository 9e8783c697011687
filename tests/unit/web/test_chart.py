"""The dashboard's SVG bar charts: scaling, empty data, one day, Decimal amounts, accessibility."""
import re
from datetime import date, timedelta
from decimal import Decimal
from xml.etree import ElementTree

import pytest

from web.admin import chart
from web.admin.chart import LEFT, PLOT_H, TOP, WIDTH, Series

SVG = "{http://www.w3.org/2000/svg}"
DAY = date(2026, 11, 29)


def _parse(markup) -> ElementTree.Element:
    return ElementTree.fromstring(str(markup))


def _bars(svg) -> list[ElementTree.Element]:
    return svg.findall(f"{SVG}rect[{SVG}title]")


@pytest.mark.parametrize("value, top", [(0, "1"), (-3, "1"), (1, "1"), (7, "10"), (10, "10"), (11, "20"),
                                        (Decimal("1234.5"), "2000"), (Decimal("0.3"), "0.5"),
                                        (Decimal("0.001"), "0.001"), (Decimal("4999.99"), "5000")])
def test_nice_ceiling_is_the_next_1_2_5_step(value, top):
    ceiling = chart.nice_ceiling(value)
    assert isinstance(ceiling, Decimal) and ceiling == Decimal(top) and ceiling >= value


def test_bar_chart_scales_the_tallest_bar_to_the_top_of_a_nice_axis():
    days = [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]
    svg = _parse(chart.bar_chart("c", "Orders", days, [Series("posted", (3, 0, 7), "#123456")]))
    heights = [Decimal(r.get("height")) for r in _bars(svg)]
    # Axis 0..10: 7 is 70 % of the plot's height, 3 is 30 %, 0 is nothing.
    assert heights == [Decimal(PLOT_H) * Decimal("0.3"), Decimal(0), Decimal(PLOT_H) * Decimal("0.7")]
    for rect, height in zip(_bars(svg), heights):
        assert Decimal(rect.get("y")) + height == TOP + PLOT_H   # bars stand on the baseline
        assert LEFT <= Decimal(rect.get("x")) and Decimal(rect.get("x")) + Decimal(rect.get("width")) <= WIDTH
    labels = [t.text for t in svg.findall(f"{SVG}text")]
    assert {"0", "5", "10"} <= set(labels)


def test_bar_chart_has_a_title_a_description_and_a_tooltip_per_bar():
    svg = _parse(chart.bar_chart("chart-orders", "Orders posted", [DAY], [Series("posted", (2,), "#123456")],
                                 label=lambda n: f"{n} orders"))
    assert svg.get("id") == "chart-orders" and svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "chart-orders-title chart-orders-desc"
    assert svg.find(f"{SVG}title").text == "Orders posted" and svg.find(f"{SVG}title").get("id") == "chart-orders-title"
    assert "1 day, 2026-11-29 to 2026-11-29" in svg.find(f"{SVG}desc").text
    assert [r.find(f"{SVG}title").text for r in _bars(svg)] == ["2026-11-29 · posted: 2 orders"]


def test_bar_chart_of_no_days_or_only_zeros_says_so():
    for days, values in (([], ()), ([DAY - timedelta(days=1), DAY], (0, 0))):
        svg = _parse(chart.bar_chart("c", "Nothing", days, [Series("posted", values, "#123456")]))
        assert any(t.text == "nothing in these days" for t in svg.findall(f"{SVG}text"))
        assert all(Decimal(r.get("height")) == 0 for r in _bars(svg)) and len(_bars(svg)) == len(days)
        assert svg.find(f"{SVG}title").text == "Nothing"


def test_bar_chart_one_day_is_one_narrow_bar_per_series():
    svg = _parse(chart.bar_chart("c", "One", [DAY], [Series("WooCommerce", (Decimal("29.35"),), "#aa0000"),
                                                       Series("JDE", (Decimal("29.35"),), "#0000aa")]))
    bars = _bars(svg)
    assert len(bars) == 2 and all(Decimal(b.get("width")) < 48 for b in bars)
    assert bars[0].get("height") == bars[1].get("height")
    assert [b.get("fill") for b in bars] == ["#aa0000", "#0000aa"]
    legend = [t.text for t in svg.findall(f"{SVG}text")]
    assert "WooCommerce" in legend and "JDE" in legend


def test_bar_chart_keeps_decimal_amounts_exact_in_tooltips_and_heights():
    amounts = (Decimal("0.10"), Decimal("1000000000000.01"), Decimal("333.33"))
    days = [DAY - timedelta(days=2 - i) for i in range(3)]
    markup = str(chart.bar_chart("c", "Money", days, [Series("JDE", amounts, "#000")],
                                 label=lambda a: f"{a} USD"))
    svg = _parse(markup)
    tips = [r.find(f"{SVG}title").text for r in _bars(svg)]
    assert tips == [f"{d.isoformat()} · JDE: {a} USD" for d, a in zip(days, amounts)]
    # Axis 2E+12, written out; coordinates are plain decimals (no exponent, no float noise).
    assert any(t.text == "2000000000000" for t in svg.findall(f"{SVG}text"))
    for number in re.findall(r' (?:x|y|width|height)="([^"]*)"', markup):
        assert re.fullmatch(r"\d+(\.\d)?", number), number
    tallest = Decimal(_bars(svg)[1].get("height"))
    assert tallest == (Decimal(PLOT_H) * amounts[1] / Decimal("2E+12")).quantize(Decimal("0.1"))


def test_bar_chart_escapes_names_and_uses_no_style_attribute():
    markup = str(chart.bar_chart("c", "<b>x</b>", [DAY], [Series('"><script>', (1,), "#000")]))
    assert "<script>" not in markup and "<b>" not in markup and "style=" not in markup
    _parse(markup)   # still well-formed


def test_rows_give_the_table_beside_the_chart():
    days = [DAY - timedelta(days=1), DAY]
    series = [Series("a", (1, 2), "#000"), Series("b", (Decimal("3.50"), Decimal(0)), "#111")]
    assert chart.rows(days, series) == [(days[0], 1, Decimal("3.50")), (days[1], 2, Decimal(0))]
