"""What the user sees of a failing check: :mod:`~harness.suite.reporting.failure` writes the failure report (the
check in plain words, the annotations at fault, the graph, the corpus file) and saves the failing case;
:mod:`~harness.suite.reporting.render` draws an annotated graph and its specs as text."""
