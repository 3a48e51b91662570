"""The `rag` command line: the edge of the system, and the only package that imports both `api` and `eval`."""
