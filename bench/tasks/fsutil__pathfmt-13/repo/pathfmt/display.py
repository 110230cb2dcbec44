from .compat import removeprefix


def short_path(path, home):
    """Replace the home directory prefix with '~'."""
    home = home.rstrip("/")
    if path == home:
        return "~"
    if path.startswith(home + "/"):
        return "~/" + removeprefix(path, home + "/")
    return path


def relative_to_root(path, root):
    root = root.rstrip("/") + "/"
    return removeprefix(path, root)
