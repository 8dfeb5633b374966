"""Pure-Python plumbing with no project imports: resolving ``MODULE:NAME`` strings, time limits."""
