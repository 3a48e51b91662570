"""Answer generators: extractive (default) and LLM backends behind one protocol."""
