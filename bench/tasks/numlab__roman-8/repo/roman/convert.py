from .tables import PAIRS, VALUES


def to_roman(n):
    if not 0 < n < 4000:
        raise ValueError(f"{n} out of range 1..3999")
    out = []
    for value, numeral in PAIRS:
        while n >= value:
            out.append(numeral)
            n -= value
    return "".join(out)


def from_roman(text):
    text = text.strip().upper()
    if not text or any(ch not in VALUES for ch in text):
        raise ValueError(f"not a Roman numeral: {text!r}")
    total = 0
    for i, ch in enumerate(text):
        value = VALUES[ch]
        if i + 1 < len(text) and VALUES[text[i + 1]] < value:
            total -= value
        else:
            total += value
    return total
