"""The server process waits passively in OpenMP unless the operator says otherwise, and sets it before torch loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import api.server
from api.server import SERVER_ENVIRONMENT, server_environment

ROOT = Path(__file__).resolve().parents[1]


def test_the_server_sets_passive_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    server_environment()
    assert SERVER_ENVIRONMENT["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_an_operators_value_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    server_environment()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_serve_applies_it_before_the_app_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    seen: list[str | None] = []

    def fake_create_app(settings: object, loader: object) -> object:
        seen.append(os.environ.get("OMP_WAIT_POLICY"))
        return object()

    monkeypatch.setattr(api.server, "create_app", fake_create_app)
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: None)
    api.server.serve()
    assert seen == ["PASSIVE"]


def test_starting_the_server_does_not_import_torch_before_serve_runs() -> None:
    code = "import sys, cli.main, api.server; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
