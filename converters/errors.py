"""The converters' one exception family. Messages name the file, key or tensor at fault.

Checkpoints come from anywhere, so a message is made safe when it is raised, as the
engine's are: control characters escaped, one line, bounded length (`engine.errors`).
"""

from engine.errors import one_line


class ConvertError(Exception):
    """A checkpoint or output problem, described in one line."""

    def __init__(self, message: object = "") -> None:
        super().__init__(one_line(str(message)))
