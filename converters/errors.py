"""The converters' one exception family. Messages name the file, key or tensor at fault."""


class ConvertError(Exception):
    """A checkpoint or output problem, described in one line."""
