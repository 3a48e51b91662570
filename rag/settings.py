"""All configuration, read once at the edge (CLI, app factory) from RAG_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "govreport-rag"


class Settings(BaseSettings):
    """Service and pipeline settings; every field can be set as RAG_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    index_dir: Path = Field(default=Path("index"), description="Index directory (FAISS + metadata + manifest).")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="Where the converted e5 model is cached.")
    embedder: Literal["e5-small", "sbert", "hashing"] = Field(
        default="e5-small", description="e5-small (packaged, default), sbert (local path), hashing (tests only)."
    )
    embedding_model_path: Path | None = Field(default=None, description="Local sentence-transformers model for embedder=sbert.")
    embed_batch_size: int = Field(default=16, ge=1, le=512)
    embedding_backend: Literal["torch", "onnx-int8"] = Field(
        default="onnx-int8",
        description="Runtime of embedder=e5-small: onnx-int8 (ONNX Runtime, int8, ~5x faster, same retrieval quality) or torch (fp32); each has its own model id, so an index is queried with the backend that built it.",
    )

    chunk_size: int = Field(default=240, ge=40, le=4000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(default=1, ge=0, le=10, description="Sentences repeated between neighbouring chunks.")

    top_k: int = Field(default=8, ge=1, le=100, description="Passages handed to the answerer.")
    retrieval_weights: dict[str, float] = Field(
        default_factory=dict,
        description='Overrides of rag.retrieval.RetrievalWeights for ablations, e.g. {"sentence_rescoring": 0, "routing": 0}.',
    )
    vector_store: Literal["faiss", "milvus"] = Field(
        default="faiss",
        description="faiss (in process, saved with the index) or milvus (shared by several API processes).",
    )
    vector_index: Literal["auto", "flat", "hnsw", "ivfpq"] = Field(
        default="auto", description="FAISS index: auto = exact up to flat_index_max chunks, HNSW (8-bit) above."
    )
    flat_index_max: int = Field(
        default=50_000, ge=0, description="Chunks up to which search is exhaustive (every candidate ranked)."
    )
    dense_depth: int = Field(default=1000, ge=10, le=16_384, description="Dense candidates above flat_index_max.")
    hnsw_m: int = Field(default=32, ge=4, le=128)
    hnsw_ef_search: int = Field(default=128, ge=8, le=4096)
    ivf_nprobe: int = Field(default=32, ge=1, le=4096)
    milvus_uri: str | None = Field(
        default=None,
        description="Milvus: a local file (milvus-lite; default <index_dir>/milvus.db) or a cluster URI such as http://milvus:19530.",
    )
    milvus_token: str | None = Field(default=None, description="Milvus cluster token (user:password or an API key).")
    milvus_collection: str = Field(default="govreport", description="Prefix of the Milvus collections.")
    store_refresh_s: float = Field(
        default=5.0, ge=0.0, description="Milvus: how often a process looks for documents other processes ingested."
    )

    reranker: Literal["none", "cross-encoder"] = "none"
    reranker_model_path: Path | None = None

    generator: Literal["extractive", "openai", "transformers"] = Field(
        default="extractive", description="extractive (default, no LLM), openai (compatible endpoint), transformers (local)."
    )
    llm_base_url: str = Field(default="http://127.0.0.1:8080/v1", description="OpenAI-compatible endpoint base URL.")
    llm_api_key: str | None = None
    llm_model: str = "qwen2.5"
    llm_model_path: Path | None = Field(default=None, description="Local model directory or GGUF file for generator=transformers.")
    llm_timeout_s: float = 60.0
    llm_max_tokens: int = 512

    reader: Literal["trained", "none"] = Field(
        default="trained",
        description="trained (shipped span reader + calibrated answer/refuse decision, default) or none (rule-based extraction).",
    )
    reader_weights_dir: Path | None = Field(default=None, description="Reader weights directory (default: the shipped ones).")
    reader_precision: Literal["auto", "bf16", "fp32"] = Field(
        default="auto",
        description="auto (bf16 where the CPU has bfloat16 instructions, else fp32), bf16 (~2.5x faster) or fp32 (as trained).",
    )
    reader_fallback: Literal["rules", "none"] = Field(
        default="rules",
        description="Below the reader's calibrated threshold: rules (the rule-based extractive answerer) or none (refuse).",
    )
    reader_passages: int = Field(default=5, ge=1, le=20, description="Top passages the reader reads per question.")
    answer_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Override of the calibrated confidence below which the reader refuses."
    )

    # HTTP service
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: list[str] = Field(default_factory=list, description="Bearer keys; required for writes when non-empty.")
    require_key_for_reads: bool = False
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    max_question_chars: int = Field(default=1000, ge=1, description="Longest question accepted (API and pipeline).")
    max_request_bytes: int = 1_000_000
    max_upload_bytes: int = 50_000_000
    rate_limit_per_minute: int = 120
    reports_dir: Path = Field(default=Path("data/reports"), description="Indexed by `rag serve` on first start.")
