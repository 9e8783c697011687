"""JDE's date forms: Julian, the AIS user's format, grid dates."""
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.jde import dates


@pytest.mark.parametrize("day, expected", [(date(2026, 11, 26), "126330"), (date(1999, 12, 31), "099365"),
                                           (date(2000, 1, 1), "100001"), (date(2024, 12, 31), "124366")])
def test_julian_is_cyyddd(day, expected):
    assert dates.julian(day) == expected and dates.from_julian(expected) == day


@pytest.mark.parametrize("text", ["126367", "12633", "abc", "125366"])
def test_from_julian_refuses_no_real_day(text):
    with pytest.raises(dates.DateFormatError):
        dates.from_julian(text if len(text) == 6 else text + "x")


@pytest.mark.parametrize("pattern, expected", [
    ("MM/dd/yyyy", "11/26/2026"), ("dd/MM/yyyy", "26/11/2026"), ("dd.MM.yyyy", "26.11.2026"),
    ("yyyy-MM-dd", "2026-11-26"), ("dd-MM-yy", "26-11-26"), ("d.M.yyyy", "26.11.2026")])
def test_format_date_in_user_pattern(pattern, expected):
    assert dates.format_date(date(2026, 11, 26), pattern) == expected
    assert dates.parse_date(expected, pattern) == date(2026, 11, 26)


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2049, 12, 31)),
       st.sampled_from(["MM/dd/yyyy", "dd/MM/yyyy", "dd.MM.yyyy", "yyyy-MM-dd", "yyyy/MM/dd", "dd/MM/yy"]))
def test_format_then_parse_is_the_same_day(day, pattern):
    assert dates.parse_date(dates.format_date(day, pattern), pattern) == day


@pytest.mark.parametrize("user_info, expected", [
    ({"simpleDateFormat": "dd.MM.yyyy", "dateSeperator": "."}, "dd.MM.yyyy"),
    ({"dateFormat": "DME", "dateSeperator": "/"}, "dd/MM/yyyy"),
    ({"dateFormat": "EMD", "dateSeperator": "-"}, "yyyy-MM-dd"),
    ({}, "MM/dd/yyyy")])
def test_user_pattern_from_token_response(user_info, expected):
    assert dates.user_pattern(user_info) == expected


@pytest.mark.parametrize("pattern", ["MM/yyyy", "dd/MM/dd", "HH:mm"])
def test_user_pattern_without_day_month_year_is_refused(pattern):
    with pytest.raises(dates.DateFormatError):
        dates.user_pattern({"simpleDateFormat": pattern})


@pytest.mark.parametrize("value, pattern", [("20261126", "dd.MM.yyyy"), ("26.11.2026", "dd.MM.yyyy"),
                                            (20261126, "MM/dd/yyyy")])
def test_parse_grid_date_yyyymmdd_or_user_format(value, pattern):
    assert dates.parse_grid_date(value, pattern) == date(2026, 11, 26)


def test_epoch_ms_is_utc_midnight():
    assert dates.epoch_ms(date(1970, 1, 2)) == 86_400_000
