"""verpick: pick package versions that satisfy simple constraints."""
