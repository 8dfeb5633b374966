"""Verification and fuzzing harness for the PT2E quantization prepare step."""
