"""An embedder over an exported ONNX sentence-embedding model, run with ONNX Runtime on CPU (no torch needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from embeddings.errors import ModelUnavailableError
from embeddings.lazy_model import LazyModel

if TYPE_CHECKING:
    from tokenizers import Tokenizer

CONFIG_FILE = "embedder.json"
MODEL_FILE = "model.onnx"


def default_threads() -> int:
    """Intra-op threads: OMP_NUM_THREADS when set (as torch does), else the CPUs this process may use."""
    configured = os.environ.get("OMP_NUM_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OnnxEmbedder:
    """An `Embedder` over a directory with `model.onnx` (token ids + mask → normalised vectors) and `tokenizer.json`."""

    def __init__(
        self,
        model_dir: Path,
        *,
        model_id: str,
        batch_size: int = 16,
        threads: int | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self._model_dir = Path(model_dir)
        self._model_id = model_id
        self._batch_size = batch_size
        self._threads = threads
        self._model = LazyModel(self._load_model)  # (session, tokenizer, config)

    @property
    def model_id(self) -> str:
        """Identifier stored in index manifests."""
        return self._model_id

    @property
    def dimension(self) -> int:
        """Vector length (loads the model if needed)."""
        return int(self._model.get()[2]["dimension"])

    def load(self) -> None:
        """Load the model now; later calls do nothing."""
        self._model.get()

    def embed_documents(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed passages with the passage prefix; texts beyond the model's max length are truncated."""
        return self._embed(texts, str(self._model.get()[2]["passage_prefix"]))

    def embed_queries(self, texts: list[str]) -> NDArray[np.float32]:
        """Embed questions with the query prefix."""
        return self._embed(texts, str(self._model.get()[2]["query_prefix"]))

    def _embed(self, texts: list[str], prefix: str) -> NDArray[np.float32]:
        session, tokenizer, config = self._model.get()
        out = np.zeros((len(texts), int(config["dimension"])), dtype=np.float32)
        if not texts:
            return out
        encodings = tokenizer.encode_batch([prefix + text for text in texts])
        lengths = np.array([len(e.ids) for e in encodings])
        # Longest first, so each batch pads to nearly its own length (as sentence-transformers does).
        order = np.argsort(-lengths, kind="stable")
        pad = int(config["pad_token_id"])
        for start in range(0, len(texts), self._batch_size):
            rows = order[start : start + self._batch_size]
            width = int(lengths[rows].max())
            ids = np.full((len(rows), width), pad, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, row in enumerate(rows):
                n = int(lengths[row])
                ids[j, :n] = encodings[row].ids
                mask[j, :n] = 1
            (vectors,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
            out[rows] = vectors
        return out

    def _load_model(self) -> tuple[Any, Tokenizer, dict[str, Any]]:
        directory = self._model_dir
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ImportError(
                f"the onnx-int8 embedding backend needs onnxruntime and tokenizers — pip install onnxruntime ({exc})"
            ) from exc
        try:
            config: dict[str, Any] = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
            tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelUnavailableError(f"no usable ONNX embedding model at {directory}: {exc}") from exc
        tokenizer.no_padding()
        tokenizer.enable_truncation(int(config["max_length"]))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self._threads or default_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        try:
            session = onnxruntime.InferenceSession(
                str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"]
            )
        except (ort_errors.Fail, ort_errors.InvalidGraph, ort_errors.InvalidProtobuf, ort_errors.NoSuchFile) as exc:
            raise ModelUnavailableError(f"cannot load {directory / MODEL_FILE}: {exc}") from exc
        return session, tokenizer, config
