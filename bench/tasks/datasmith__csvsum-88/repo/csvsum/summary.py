from .reader import read_column
from .stats import mean, median


def summarize_file(path, column):
    values = read_column(path, column)
    return {
        "count": len(values),
        "min": min(values),
        "max": max(values),
        "mean": mean(values),
        "median": median(values),
    }
