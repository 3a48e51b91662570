"""The on-disk index: FAISS vectors plus documents, chunks and a manifest, saved atomically by generation.

Layout of an index directory::

    CURRENT                 name of the live generation (replaced atomically)
    gen-000007/manifest.json
    gen-000007/documents.jsonl   cleaned text + metadata, one document a line
    gen-000007/chunks.jsonl      chunk text/offsets/section + lexical tokens, aligned with the vectors
    gen-000007/vectors.faiss     FAISS IndexFlatIP of normalised embeddings
    .lock                   the cross-process writer lock (see `lock.writer_lock`)

A save writes a new generation directory, fsyncs it, then swaps CURRENT; a crash at any point leaves the
previous generation live, and the next open sweeps up its temporary files. A damaged live generation is an
IndexCorruptError that names the file, never a raw traceback.

`store` is the index in memory (IndexStore and its Manifest), `records` the JSON lines of its files,
`generations` saves and loads generations and sweeps up after killed writers, `integrity` reads each file of a
generation with damage reported by file, and `lock` is the writer lock.
"""
