"""The suite's checks: running the quantizer and judging what it did. Every check runs on the quantizer's run of
a graph, :mod:`~harness.suite.checks.quantizer_run` (check 1, ``annotate``, and check 5: crashes and hangs are
problems; with :mod:`~harness.suite.checks.structure`, the rule that only annotations may change, and
:mod:`~harness.suite.checks.hangs`, a hang remembered); on the annotated graph,
:mod:`~harness.suite.checks.well_formed_annotations` (check 2) and :mod:`~harness.suite.checks.prepare_agreement`
(check 3). The runners the registry (:mod:`harness.suite.check_registry`) names apply them to their subjects:
:mod:`~harness.suite.checks.model_checks` (``annotate``, ``well_formed``, ``prepare`` on a model and ``coverage``,
check 6; with :mod:`~harness.suite.checks.model_runs`, the run on each model cached, and
:mod:`~harness.suite.checks.claims`, what the quantizer says it supports), :mod:`~harness.suite.checks.sqnr`
(``numerics``, check 4), :mod:`~harness.suite.checks.graph_checks` (a case graph; ``corpus``, a saved graph) and
:mod:`~harness.suite.checks.random_search` (``random_graphs``, the hypothesis search).

Nothing here imports pytest, and no check raises for anything the quantizer or the prepare under test does."""
