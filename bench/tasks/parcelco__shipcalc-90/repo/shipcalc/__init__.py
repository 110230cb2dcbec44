"""shipcalc: parcel shipping quotes by destination zone and weight."""

from .quote import quote

__all__ = ["quote"]
