"""Tools on saved cases: standalone reproducer scripts (repro) and pictures of a case (show)."""
