import unicodedata


def ascii_fold(text):
    """Drop accents: 'é' -> 'e'. Characters with no ASCII form are removed."""
    decomposed = unicodedata.normalize("NFC", text)
    return decomposed.encode("ascii", "ignore").decode("ascii")
