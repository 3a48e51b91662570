"""Text knowledge shared by every stage: numbers and figures, sentences and clauses, years and dates."""
