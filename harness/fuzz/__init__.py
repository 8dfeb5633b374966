"""The fuzz campaign: the driver, its workers and their two searches, the engines, the case reducer (``reduce``),
and the ``fuzz`` and ``shrink`` commands (``cli``, ``cli_shrink``). The mutants it must catch live apart, in
:mod:`harness.mutants`, and are named only by string (``--candidate harness.mutants:NAME``)."""
