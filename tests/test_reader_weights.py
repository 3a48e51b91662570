"""Shipped reader weights: checksummed, tied to their base model, every defect named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rag.errors import ModelUnavailableError
from rag.reader.weights import MANIFEST_NAME, WEIGHTS_NAME, update_card, verify_weights, write_weights


def fake_base(root: Path, source_sha: str = "a" * 64) -> Path:
    base = root / "base"
    base.mkdir(parents=True, exist_ok=True)
    (base / "verification.json").write_text(json.dumps({"provenance": {"source_sha256": source_sha}}))
    return base


@pytest.fixture
def shipped(tmp_path: Path) -> tuple[Path, Path]:
    base = fake_base(tmp_path)
    out = tmp_path / "reader"
    delta = {"qa_outputs.weight": torch.ones(2, 4, dtype=torch.float16), "qa_outputs.bias": torch.zeros(2)}
    write_weights(out, delta, base_dir=base, card={"config": {"max_tokens": 96}, "steps": 3})
    return out, base


def test_written_weights_verify_and_carry_their_card(shipped: tuple[Path, Path]) -> None:
    out, base = shipped
    manifest = verify_weights(out, base)
    assert manifest.max_tokens == 96 and manifest.card["steps"] == 3
    update_card(out, scores={"cmrc_em": 0.5})
    assert verify_weights(out, base).card["scores"] == {"cmrc_em": 0.5}


def test_a_changed_byte_fails_the_checksum_naming_the_file(shipped: tuple[Path, Path]) -> None:
    out, base = shipped
    data = bytearray((out / WEIGHTS_NAME).read_bytes())
    data[-1] ^= 0xFF
    (out / WEIGHTS_NAME).write_bytes(bytes(data))
    with pytest.raises(ModelUnavailableError, match=r"reader\.safetensors fail their checksum"):
        verify_weights(out, base)


def test_missing_files_and_broken_manifest_are_reported(shipped: tuple[Path, Path]) -> None:
    out, base = shipped
    (out / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(ModelUnavailableError, match=r"manifest .* unreadable"):
        verify_weights(out, base)
    (out / MANIFEST_NAME).unlink()
    with pytest.raises(ModelUnavailableError, match=r"reader\.json is missing"):
        verify_weights(out, base)


def test_weights_of_another_base_model_are_refused(shipped: tuple[Path, Path], tmp_path: Path) -> None:
    out, _ = shipped
    other = fake_base(tmp_path / "other", source_sha="b" * 64)
    with pytest.raises(ModelUnavailableError, match="trained on base model"):
        verify_weights(out, other)


def test_rewriting_weights_keeps_the_calibration(shipped: tuple[Path, Path]) -> None:
    out, base = shipped
    update_card(out, calibration={"threshold": 0.4})
    write_weights(out, {"qa_outputs.bias": torch.ones(2)}, base_dir=base, card={"config": {}})
    assert verify_weights(out, base).card["calibration"] == {"threshold": 0.4}


def test_the_model_card_says_what_each_kind_of_calibration_was_fitted_on() -> None:
    from rag.reader.weights import render_card

    def card(fitted: dict[str, object]) -> str:
        calibration = {"features": ["margin"], "threshold": 0.6, "text_threshold": 0.5, "fitted_on": fitted, "curve": []}
        return render_card({"card": {"calibration": calibration}})

    single = card({"cases": 1588, "slice_questions": 1185})
    assert "fitted on 1588 reading cases of 1185 held-out questions" in single
    retrieved = card({"mode": "retrieval", "cases": 1154, "questions": 1185, "indexed_passages": 600, "answerable_in_index": 580})
    assert "1154 held-out questions asked through the pipeline over an index of 600 training passages" in retrieved
    assert "(580 of 1185 answerable there)" in retrieved
