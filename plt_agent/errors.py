"""The application's exception family: bad usage or configuration, failed runs."""


class PltAgentError(Exception):
    """A problem to show the user as one line; `exit_code` is what the CLI exits with."""

    exit_code = 1


class UsageError(PltAgentError):
    """Bad flags, arguments or configuration (exit code 2)."""

    exit_code = 2
