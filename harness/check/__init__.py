"""Judging a prepared model: canonical form, comparison of two forms, invariants, known upstream bugs, and
``run.check_case`` (the differential check of one case)."""
