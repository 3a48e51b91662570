"""What the system knows about the world of the reports, as data: regions and their names, report vocabulary."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load_data(name: str) -> Any:
    """A packaged JSON file of rag/data/."""
    return json.loads(resources.files("rag").joinpath("data", name).read_text(encoding="utf-8"))
