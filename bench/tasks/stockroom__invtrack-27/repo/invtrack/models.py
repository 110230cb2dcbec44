from dataclasses import dataclass


@dataclass
class Item:
    sku: str
    name: str
    qty: int = 0
    reorder_level: int = 0

    @classmethod
    def from_row(cls, row):
        """Build an item from a CSV row: sku,name,qty,reorder_level."""
        sku, name, qty, level = (part.strip() for part in row.split(","))
        return cls(sku, name, int(qty), int(level))
