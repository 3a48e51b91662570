"""Answering: turn retrieved passages into a cited short answer or an honest refusal."""
