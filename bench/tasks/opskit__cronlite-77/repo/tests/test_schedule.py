from datetime import datetime

import pytest

from cronlite.fields import CronError, parse_field
from cronlite.schedule import next_run


def test_star_and_step():
    assert parse_field("*/15", 0, 59) == {0, 15, 30, 45}


def test_list():
    assert parse_field("1,3,5", 0, 6) == {1, 3, 5}


def test_next_run_same_day():
    assert next_run("30 14 *", datetime(2024, 1, 4, 10, 0)) == datetime(2024, 1, 4, 14, 30)


def test_next_run_list_of_days():
    assert next_run("0 9 0,2,4", datetime(2024, 1, 4, 10, 0)) == datetime(2024, 1, 5, 9, 0)


def test_out_of_range():
    with pytest.raises(CronError):
        parse_field("7", 0, 6)
