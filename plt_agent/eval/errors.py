"""The evaluation harness's exception: a broken task, a bad instance file, a failed checkout."""

from plt_agent.errors import PltAgentError, UsageError


class EvalError(PltAgentError):
    """A task, patch or checkout problem; the message names the task or file."""


class EvalUsageError(UsageError):
    """Bad arguments to an eval command (exit code 2)."""
