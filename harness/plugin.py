"""pytest plugin for third-party quantizers (registered through the ``pytest11`` entry point as ``pt2e``).

All options live in the ``pt2e`` group of ``pytest --help``. Importing this module must stay cheap: it is
loaded by every pytest run in an environment where the project is installed, so torch is imported lazily.
"""

from __future__ import annotations


def pytest_addoption(parser) -> None:
    group = parser.getgroup("pt2e", "PT2E quantizer checks (pt2e-prepare-harness)")
    group.addoption(
        "--pt2e-quantizer",
        action="append",
        default=[],
        metavar="MODULE:FACTORY",
        help="a Quantizer class or zero-argument factory to check (repeatable)",
    )
