"""Where the region catalogue used to live; it is in `rag.knowledge.regions` now (vocabulary: `rag.knowledge.vocabulary`).

Re-exports only, for the modules that still import from here (rag/retrieval.py, rag/snapshot.py,
rag/stores/milvus_store.py); new code imports from `rag.knowledge`.
"""

from __future__ import annotations

from rag.knowledge.regions import RegionCatalog, region_from_meta

__all__ = ["RegionCatalog", "region_from_meta"]
