"""What the suite's checks run on: :mod:`~harness.suite.subjects.subject` names one subject (a :class:`Subject`:
a model, a chunk of random graphs, a saved graph, or the quantizer as a whole), :mod:`~harness.suite.subjects.models`
builds and exports the six small models, :mod:`~harness.suite.subjects.random_graphs` splits the random graphs into
chunks with their seeds, :mod:`~harness.suite.subjects.saved_graphs` lists the graphs saved in the corpus directory,
and :mod:`~harness.suite.subjects.case_graphs` turns a case graph into the module program a quantizer sees.

Nothing here runs the quantizer (that is :mod:`harness.suite.checks`); this package's ``__init__`` and
:mod:`~harness.suite.subjects.subject` import no torch (the plugin's run summary reads them in every run)."""
