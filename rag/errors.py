"""Errors callers catch; the CLI and HTTP edges convert them to exit codes and status codes."""

from __future__ import annotations

# The base class and the embedding backends' error live in `embeddings` (which must not import `rag`).
from embeddings.errors import ModelUnavailableError, RagError


class UnsupportedFileError(RagError):
    """A file type we cannot read (message names the supported types)."""


class DocumentReadError(RagError):
    """A file of a supported type that could not be read or decoded (corrupt PDF, bad JSON line…)."""


class IndexNotFoundError(RagError):
    """No index at the given directory."""


class IndexMismatchError(RagError):
    """The index was built with a different embedding model, dimension or format."""


class InvalidQuestionError(RagError):
    """Empty or too long question."""


class DocumentNotFoundError(RagError):
    """No document with that id in the index."""


class GeneratorError(RagError):
    """An LLM backend failed (unreachable endpoint, bad response)."""


class IndexCorruptError(IndexMismatchError):
    """A file of the live index generation is truncated or damaged (message names it and how to rebuild)."""


class IndexLockedError(RagError):
    """Another writer held the index directory's lock for longer than the wait allowed."""


__all__ = [
    "DocumentNotFoundError",
    "DocumentReadError",
    "GeneratorError",
    "IndexCorruptError",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "InvalidQuestionError",
    "ModelUnavailableError",
    "RagError",
    "UnsupportedFileError",
]
