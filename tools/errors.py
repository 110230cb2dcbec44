"""The tools' one exception: `ToolError`, a problem the model should read and act on.

Tools never raise it for problems the model caused; helpers do, and `registry.run_tool`
turns it into an `Observation(ok=False)` whose text is the message.
"""


class ToolError(Exception):
    """A problem the model should read and act on (the message is written for the model)."""
