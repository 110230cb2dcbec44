from .bins import histogram


def bar_chart(values, bins=5, width=20, char="#"):
    counts = histogram(values, bins)
    top = max(counts) or 1
    return "\n".join(char * round(width * c / top) for c in counts)
