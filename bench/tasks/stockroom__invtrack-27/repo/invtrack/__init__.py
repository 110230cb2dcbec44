"""invtrack: inventory records, stock movements and reports."""
