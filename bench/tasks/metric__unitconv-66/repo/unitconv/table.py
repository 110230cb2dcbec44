"""Load the unit table shipped with the package."""

import json
from pathlib import Path

_TABLE = Path(__file__).parent / "data" / "lengths.json"


def load_table(path=_TABLE):
    """Map unit name -> metres per unit."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {name: float(spec["metres"]) for name, spec in data["units"].items()}
