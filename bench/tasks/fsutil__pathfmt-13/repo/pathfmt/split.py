def split_ext(name):
    """'archive.tar.gz' -> ('archive', '.tar.gz'); dotfiles keep their name."""
    stem = name.lstrip(".")
    lead = name[: len(name) - len(stem)]
    if "." not in stem:
        return name, ""
    base, _, rest = stem.partition(".")
    return lead + base, "." + rest
