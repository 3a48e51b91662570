"""A model loaded on first use, once, however many threads ask for it at the same time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LazyModel(Generic[T]):
    """Holds what `load` returns; `load` runs on the first `get()` (a failed load is retried on the next one)."""

    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        """The model, loading it first if it is not loaded yet."""
        value = self._value
        if value is None:
            with self._lock:  # concurrent first requests load the model once
                if self._value is None:
                    self._value = self._load()
                value = self._value
        return value
