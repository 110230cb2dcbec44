class ParseError(Exception):
    """Raised for unknown options, missing values and bad conversions."""
