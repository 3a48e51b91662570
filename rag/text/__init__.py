"""Text knowledge shared by every stage: numbers and figures, sentences and clauses, years and dates.

`offsets` edits text while keeping, for every character, its offset in the raw text.
"""
