import re

from .text import ascii_fold


def slugify(title, sep="-", max_length=60):
    text = ascii_fold(title).lower()
    slug = re.sub(r"[^a-z0-9]+", sep, text).strip(sep)
    return slug[:max_length].rstrip(sep)


def unique_slug(title, taken):
    base = slugify(title)
    slug, n = base, 2
    while slug in taken:
        slug = f"{base}-{n}"
        n += 1
    return slug
