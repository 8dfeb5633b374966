"""The case data model (pure data, no torch): graphs, annotations, specs, and their JSON form and files.

``harness.case`` re-exports the data model (:mod:`harness.case.model`), so ``from harness import case as C``
then ``C.Node`` reads as before.
"""

from harness.case.model import *  # noqa: F401,F403
from harness.case.model import __all__  # noqa: F401
