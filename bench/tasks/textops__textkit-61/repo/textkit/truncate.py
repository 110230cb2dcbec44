def truncate(text, width, placeholder="..."):
    """Shorten `text` to at most `width` characters, ending with `placeholder` when cut.

    If `width` is smaller than the placeholder, the placeholder itself is cut.
    """
    if len(text) <= width:
        return text
    if width <= len(placeholder):
        return placeholder[:width]
    return text[:width] + placeholder
