"""confmerge: merge and flatten nested configuration dictionaries."""
