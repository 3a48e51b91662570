"""HTTP API, chat widget and demo page over the report QA pipeline."""

from __future__ import annotations

from api.app import create_app

__all__ = ["create_app"]
