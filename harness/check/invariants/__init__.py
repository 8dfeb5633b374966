"""Properties every correctly prepared model has, as reusable checkers (one module per family of checks).

Each checker is ``check_x(ctx: CheckContext) -> list[Violation]``: it reads the annotated model
(``ctx.original``, never mutated), the prepared one (``ctx.prepared``; models are only run on deep
copies) and optional extra knowledge (``ctx.expected_groups``: the sharing partition a correct prepare
must produce; ``ctx.example_inputs``), and returns one :class:`Violation` per problem, in plain words
naming the nodes and edges at fault. Checkers that need knowledge the context lacks return ``[]``.

Keys and "which observer observes a key" are those of :mod:`harness.check.keys` and
:mod:`harness.check.observer_map`; keys upstream semantics leave unobserved are :func:`exempt_keys`.
The families: sharing (one observer per group, no cyclic sharing), edges (annotated edges observed, nothing
else), spec_match (observer matches spec), derived (derived sources), well_formed (graph well formed),
float_semantics and convert_state; :mod:`~harness.check.invariants.registry` names them all (``CHECKS``).
"""

from harness.check.invariants.context import CheckContext, ExpectedGroup, Violation
from harness.check.invariants.convert_state import check_convert_state
from harness.check.invariants.derived import check_derived_sources
from harness.check.invariants.edges import check_annotated_edges_observed
from harness.check.invariants.exempt import exempt_keys
from harness.check.invariants.expected import expected_groups_from_analysis, expected_groups_from_upstream
from harness.check.invariants.float_semantics import check_float_semantics, float_outputs_match
from harness.check.invariants.registry import CHECKS, check_all
from harness.check.invariants.sharing import check_no_cyclic_sharing, check_one_observer_per_group
from harness.check.invariants.spec_match import check_observer_matches_spec
from harness.check.invariants.well_formed import check_graph_well_formed

__all__ = [
    "CHECKS",
    "CheckContext",
    "ExpectedGroup",
    "Violation",
    "check_all",
    "check_annotated_edges_observed",
    "check_convert_state",
    "check_derived_sources",
    "check_float_semantics",
    "check_graph_well_formed",
    "check_no_cyclic_sharing",
    "check_observer_matches_spec",
    "check_one_observer_per_group",
    "exempt_keys",
    "expected_groups_from_analysis",
    "expected_groups_from_upstream",
    "float_outputs_match",
]
