"""calc: a small arithmetic expression evaluator."""

from .evaluate import evaluate

__all__ = ["evaluate"]
