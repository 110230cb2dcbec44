class RetryError(Exception):
    """Raised when every attempt failed; __cause__ is the last error."""
