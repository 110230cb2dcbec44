"""pwcheck: password policy checks with readable messages."""

from .policy import DEFAULT_POLICY, Policy
from .validate import is_acceptable, problems

__all__ = ["DEFAULT_POLICY", "Policy", "is_acceptable", "problems"]
