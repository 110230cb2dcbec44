"""notes: a tiny in-memory note store with tags."""
