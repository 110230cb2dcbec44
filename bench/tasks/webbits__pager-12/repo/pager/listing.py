from dataclasses import dataclass

from .errors import PageOutOfRange
from .math import page_bounds, page_count


@dataclass
class Page:
    items: list
    number: int
    pages: int

    @property
    def has_next(self):
        return self.number < self.pages

    @property
    def has_prev(self):
        return self.number > 1


def paginate(items, page=1, per_page=20):
    pages = page_count(len(items), per_page)
    if not 1 <= page <= pages:
        raise PageOutOfRange(f"page {page} of {pages}")
    start, end = page_bounds(page, per_page)
    return Page(items[start:end], page, pages)
