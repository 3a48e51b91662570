"""LazyModel: loads on first use, once under concurrent first calls, and again after a failed load."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from embeddings.lazy_model import LazyModel


def test_loads_on_first_get_only() -> None:
    calls: list[int] = []
    model = LazyModel(lambda: calls.append(1) or "model")
    assert not calls
    assert model.get() == "model" and model.get() == "model"
    assert len(calls) == 1


def test_concurrent_first_gets_load_once() -> None:
    calls: list[int] = []
    start = threading.Barrier(8)

    def load() -> object:
        calls.append(1)
        time.sleep(0.05)  # long enough for every thread to be waiting
        return object()

    model = LazyModel(load)

    def get(_: int) -> object:
        start.wait()
        return model.get()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(get, range(8)))
    assert len(calls) == 1
    assert all(r is results[0] for r in results)


def test_a_failed_load_is_tried_again() -> None:
    attempts: list[int] = []

    def load() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("not there yet")
        return "model"

    model = LazyModel(load)
    with pytest.raises(OSError):
        model.get()
    assert model.get() == "model"
    assert len(attempts) == 2
