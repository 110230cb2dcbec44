"""fuzzy: edit distance and spelling suggestions."""
