"""csvsum: per-column summaries of CSV files."""
