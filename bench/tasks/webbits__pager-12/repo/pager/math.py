"""Page arithmetic shared by the listing helpers."""


def page_count(total, per_page):
    """How many pages `total` items need; an empty listing still has one page."""
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    return max(1, total // per_page)


def page_bounds(page, per_page):
    start = (page - 1) * per_page
    return start, start + per_page
