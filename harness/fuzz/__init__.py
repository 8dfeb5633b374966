"""The fuzz campaign (driver and workers) and the deliberately broken prepares it must catch (mutants)."""
