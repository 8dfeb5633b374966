"""pytest plugin for third-party PT2E quantizers (registered through the ``pytest11`` entry point as ``pt2e``).

From the command line, in any directory::

    pytest --pt2e-quantizer=mypkg.quant:make_quantizer [--pt2e-examples=20] [-n auto]

adds the quantizer suite (:mod:`harness.suite.dispatch`) to the run: every check of its registry
(:mod:`harness.suite.check_registry`) on its subjects: per model of :mod:`harness.suite.subjects.models` the
``annotate``, ``well_formed``, ``prepare`` and ``numerics`` checks, random graphs (``random_graphs[i]``), the graphs
saved in the corpus directory (``corpus[...]``) and ``coverage``. Every option is also an ini value
(``pt2e_quantizer = mypkg.quant:make_quantizer`` in ``[tool.pytest.ini_options]``); all are in the ``pt2e`` group
of ``pytest --help``.

In a quantizer's own test suite, one line in a test module is enough::

    test_pt2e = quantizer_suite_tests(MyQuantizer)        # or quantizer_suite_tests() + a pt2e_quantizer fixture

Failures print the check in plain words, the annotations at fault and the annotated graph, and write the case to
the corpus directory (``pt2e-findings/`` by default). Known upstream bugs are expected failures (xfail); a model
left unannotated is a :class:`QuantizerWarning`. Every generated test carries the ``pt2e_quantizer_suite`` marker.
A factory with configuration variants (``configs``, :mod:`harness.suite.source`) is checked in its default
configuration only (the factory called without ``config``); ``python -m harness fuzz --quantizer`` fuzzes them all.

This module is what pytest registers: it exposes the hooks and the fixture of :mod:`harness.plugin.hooks` and the
public names users import (``QuantizerWarning``, ``quantizer_suite_tests``). The items are in
:mod:`harness.plugin.items`, the run summary in :mod:`harness.plugin.summary`. Importing it must stay cheap (no
torch): it is loaded by every pytest run in an environment where the project is installed.
"""

from harness.plugin.hooks import (
    pt2e_quantizer,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_generate_tests,
    pytest_sessionstart,
)
from harness.plugin.items import MARKER, QuantizerWarning, quantizer_suite_tests

__all__ = ["QuantizerWarning", "quantizer_suite_tests", "pt2e_quantizer", "MARKER", "pytest_addoption",
           "pytest_configure", "pytest_sessionstart", "pytest_collection_modifyitems", "pytest_generate_tests"]
