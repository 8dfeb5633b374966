"""The mutants: prepares and quantizers broken on purpose, one rule or one seeded bug each, that the harness must
catch; a public name each.

The rule: every mutant is an attribute of this package, so ``--candidate harness.mutants:NAME`` (or, for a
quantizer mutant, ``--quantizer harness.mutants:NAME``; a public string, in docs, benchmarks and scripts) names it.
``MUTANTS`` maps the names of the mutants of the reference (:mod:`harness.mutants.reference`, a piece of
:mod:`prepare_impl` patched for the call) to the rule each breaks; ``UPSTREAM_MUTANTS`` those of torchao's own
prepare (:mod:`harness.mutants.upstream`, a source edit applied at run time); ``QUANTIZER_MUTANTS`` the real
quantizers with one seeded annotator bug gated on one graph shape (:mod:`harness.mutants.quantizers`). A mutant
is a candidate, not part of the harness: this package imports nothing from the harness's layers, and they never
import it (both are contracts in ``pyproject.toml``).
"""

from __future__ import annotations

from harness.mutants import quantizers, reference, upstream
from harness.mutants.quantizers import QUANTIZER_MUTANTS
from harness.mutants.reference import MUTANTS
from harness.mutants.upstream import UPSTREAM_MUTANTS

for _module, _names in ((reference, MUTANTS), (upstream, UPSTREAM_MUTANTS), (quantizers, QUANTIZER_MUTANTS)):
    for _name in _names:
        globals()[_name] = getattr(_module, _name)
del _module, _names, _name

__all__ = ["MUTANTS", "UPSTREAM_MUTANTS", "QUANTIZER_MUTANTS", *MUTANTS, *UPSTREAM_MUTANTS, *QUANTIZER_MUTANTS]
