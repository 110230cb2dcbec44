from datetime import date

import pytest

from calendarkit.arith import add_months
from calendarkit.months import days_in_month


def test_days_in_month_common_year():
    assert days_in_month(2023, 2) == 28
    assert days_in_month(2023, 12) == 31


def test_days_in_month_leap_year():
    assert days_in_month(2024, 2) == 29


def test_century_is_not_leap():
    assert days_in_month(1900, 2) == 28


def test_bad_month():
    with pytest.raises(ValueError):
        days_in_month(2024, 13)


def test_add_months_clamps():
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 3, 31), -1) == date(2023, 2, 28)
