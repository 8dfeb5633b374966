"""The survey of real quantizers' vocabulary (issue 14, ``harness/strategies/op_survey.json``) is current, every op
it lists as not generated has its reason, and what it marks generated is drawn and exported (each op of the table
is checked to export back to itself by ``tests/strategies/test_op_table.py``)."""

from __future__ import annotations

import importlib.util

import pytest

from harness.strategies import op_survey, op_table
from harness.strategies.op_survey_reasons import REASONS, UNPRODUCIBLE

STORED = op_survey.load()


@pytest.mark.skipif(importlib.util.find_spec("executorch") is None, reason="the survey reads ExecuTorch's quantizers")
def test_the_stored_survey_is_that_of_the_installed_packages_and_the_table():
    fresh = op_survey.survey()
    assert fresh["versions"] == STORED["versions"], "packages changed: python -m harness.strategies.op_survey"
    assert fresh == STORED, "the survey is stale: python -m harness.strategies.op_survey"


def test_every_quantizer_source_is_read():
    assert set(STORED["sources"]) == set(op_survey.SOURCES)
    named_by = {q for e in STORED["ops"].values() for q in e["quantizers"]}
    # OpenVINO's quantizer matches NNCF's own operator metatypes, never an ATen op by name
    assert set(op_survey.SOURCES) - named_by == {"executorch_openvino"}
    assert all(s["names"] == sum(q in e["quantizers"] for e in STORED["ops"].values())
               for q, s in STORED["sources"].items())


def test_generated_means_drawn_by_the_table_and_written_by_a_module_program():
    for name, entry in STORED["ops"].items():
        overloads = [name] if name.count(".") == 2 else [o for o in op_table.GENERATED_OPS if o.startswith(name + ".")]
        drawn = [o for o in overloads if o in op_table.GENERATED_OPS]
        assert entry["generated"] == bool(drawn), name
        if entry["generated"]:
            assert all(o in op_table.PROGRAM_OPS for o in drawn), name


def test_every_op_left_out_has_its_reason_and_no_reason_is_stale():
    left_out = {n for n, e in STORED["ops"].items() if not e["generated"]}
    assert all(STORED["ops"][n].get("reason") for n in left_out)
    assert set(REASONS) <= set(STORED["ops"]), sorted(set(REASONS) - set(STORED["ops"]))
    assert not set(REASONS) - left_out, f"generated now, drop their reason: {sorted(set(REASONS) - left_out)}"
    assert {n for n, e in STORED["ops"].items() if not e["producible"]} == UNPRODUCIBLE & set(STORED["ops"])


def test_at_least_nine_in_ten_of_the_producible_ops_are_generated():
    counts = STORED["counts"]
    assert counts["named"] == len(STORED["ops"])
    assert counts["generated"] >= 0.9 * counts["producible"], counts
