from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    min_length: int = 8
    require_digit: bool = True
    require_upper: bool = True
    require_symbol: bool = False


DEFAULT_POLICY = Policy()
