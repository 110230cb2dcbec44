from datetime import date


class Calendar:
    def __init__(self, holidays=()):
        self.holidays = set(holidays)

    def is_weekend(self, d: date):
        return d.weekday() > 5

    def is_business_day(self, d: date):
        return not self.is_weekend(d) and d not in self.holidays
