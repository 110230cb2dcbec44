from .distance import distance


def suggest(word, vocabulary, max_distance=2, limit=5):
    """Words within `max_distance` edits, closest first, ties alphabetical."""
    scored = sorted((distance(word.lower(), w.lower()), w) for w in vocabulary)
    return [w for d, w in scored if d <= max_distance][:limit]
