"""The reader network: the converted e5-small encoder with a linear start/end head (torch backend).

Imported only when a reader is loaded or trained, so `rag` stays importable without torch. The shipped
weights hold only what fine-tuning changed (the top encoder layers and the head, fp16); they are
applied over the verified converted base model, whose own checksum manifest guards the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn


class SpanReader(nn.Module):
    """BERT encoder + Linear(hidden, 2): per-token start and end logits."""

    def __init__(self, encoder: nn.Module, hidden_size: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.qa_outputs = nn.Linear(hidden_size, 2)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Start and end logits, shape (batch, length)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        logits = self.qa_outputs(hidden)
        start, end = logits.unbind(dim=-1)
        return start, end


def build_reader(base_dir: Path) -> SpanReader:
    """A reader over the converted base encoder, head freshly initialised (seeded by the caller)."""
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    config = BertConfig.from_dict(json.loads((base_dir / "config.json").read_text(encoding="utf-8")))
    encoder = BertModel(config, add_pooling_layer=False)
    state = load_file(str(base_dir / "model.safetensors"))
    state = {k.removeprefix("bert."): v for k, v in state.items() if not k.startswith("pooler.")}
    missing, unexpected = encoder.load_state_dict(state, strict=False)
    missing = [k for k in missing if "position_ids" not in k]
    if missing or unexpected:
        raise RuntimeError(f"base model does not fit BertModel: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return SpanReader(encoder, int(config.hidden_size))


def trainable_names(reader: SpanReader, first_layer: int) -> list[str]:
    """Parameter names fine-tuned: encoder layers >= first_layer and the head."""
    names = []
    for name, _ in reader.named_parameters():
        if name.startswith("qa_outputs.") or (
            name.startswith("encoder.encoder.layer.") and int(name.split(".")[3]) >= first_layer
        ):
            names.append(name)
    return names


def freeze_except(reader: SpanReader, names: Sequence[str]) -> None:
    """Make only `names` trainable."""
    keep = set(names)
    for name, param in reader.named_parameters():
        param.requires_grad = name in keep


def delta_state(reader: SpanReader, names: Sequence[str]) -> dict[str, torch.Tensor]:
    """The fine-tuned tensors as fp16, ready to ship."""
    params = dict(reader.named_parameters())
    return {n: params[n].detach().to(torch.float16).contiguous() for n in names}


def apply_delta(reader: SpanReader, delta: Mapping[str, torch.Tensor]) -> None:
    """Overwrite the fine-tuned tensors with shipped values."""
    params = dict(reader.named_parameters())
    unknown = [n for n in delta if n not in params]
    if unknown:
        raise RuntimeError(f"reader weights name tensors the base model lacks: {unknown[:3]}")
    with torch.no_grad():
        for name, value in delta.items():
            if params[name].shape != value.shape:
                raise RuntimeError(f"reader weight {name} has shape {tuple(value.shape)}, expected {tuple(params[name].shape)}")
            params[name].copy_(value.to(params[name].dtype))
