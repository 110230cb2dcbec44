from datetime import date

from bizdays.calendar import Calendar
from bizdays.count import add_business_days, business_days_between
from bizdays.holidays import fixed_holidays


def test_within_week():
    assert business_days_between(date(2024, 3, 4), date(2024, 3, 7)) == 3


def test_sunday_skipped():
    assert add_business_days(date(2024, 3, 9), 1) == date(2024, 3, 11)


def test_holidays_skipped():
    cal = Calendar(fixed_holidays(2024))
    assert business_days_between(date(2023, 12, 25), date(2023, 12, 28), cal) == 3
    assert business_days_between(date(2024, 12, 23), date(2024, 12, 28), cal) == 3
