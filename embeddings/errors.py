"""Errors of the embedding backends, in a module that needs nothing from `rag` (which re-exports them).

`RagError` is the project-wide base of errors with a message meant for the user: it lives here, at the bottom
of the dependency order (`rag → embeddings`), so `except RagError` at the CLI and HTTP edges catches an
embedding failure too, and `embeddings` never imports `rag`.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class for errors with a message meant for the user."""


class ModelUnavailableError(RagError):
    """A configured model cannot be loaded offline (missing package, path or corrupt cache)."""
