"""The corpus code: conformance and upstream-bug scenarios, generated into ``corpus/`` and replayed."""
