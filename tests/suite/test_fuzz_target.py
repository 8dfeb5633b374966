"""The quantizer fuzz target: its naming of findings (:func:`harness.suite.checks.quantizer_case.problem_class`) and what its
reach measure follows."""

from __future__ import annotations

from contextlib import contextmanager

from harness.suite.checks.quantizer_run import run_quantizer
from harness.suite.checks.quantizer_case import problem_class
from harness.suite.results import Problem


def test_a_problems_class_leaves_out_numbers_and_names_but_not_the_digits_of_a_word():
    problem = Problem("well_formed", "annotation of 'conv2d_3': pt2e int8 spec keyed by conv2d_3 at 12, axis 1.5")
    assert problem_class(problem, ["conv2d_3"]) == "well_formed: pt2e int8 spec keyed by _ at N, axis N.N"


def test_a_raised_error_is_named_by_the_step_its_type_and_the_function_it_was_raised_in():
    """The innermost frame of the traceback (``harness.suite.describe.where``'s lines) names the function: two bugs
    raising one type in one step are two findings; without a traceback, the step and the type."""
    frames = ("    x86_inductor_quantizer.py:712 in _annotate_conv2d: conv_partition = partitions[0]\n"
              "    x86_inductor_quantizer.py:640 in _get_output_nodes_of_partitions: partition.output_nodes[0]")
    problem = Problem("annotate", f"annotate() raised IndexError: list index out of range\n{frames}")
    assert problem_class(problem, []) == "annotate: annotate() raised IndexError in _get_output_nodes_of_partitions"
    bare = Problem("annotate", "annotate() raised IndexError: tuple index out of range")
    assert problem_class(bare, []) == "annotate: annotate() raised IndexError"


def test_the_reach_measure_covers_the_quantizers_own_calls_and_not_the_fusions_around_them(monkeypatch):
    """``run_quantizer(traced=...)``: the factory, ``transform_for_annotation``, ``annotate`` and ``validate`` run
    inside ``traced()``, torchao's batch-norm fusion (PTQ before annotate, QAT after validate) outside it, so the
    measure does not pay a trace event for every frame of torchao's code."""
    import harness.suite.checks.quantizer_run as quantizer_run
    from harness.suite.source import quantizer_source
    from harness.suite.subjects import models

    inside, seen = [False], []

    @contextmanager
    def traced():
        inside[0] = True
        try:
            yield
        finally:
            inside[0] = False

    def noting(name, fn=None):
        def call(*args):
            seen.append((name, inside[0]))
            return fn(*args) if fn is not None else args[-1]
        return call

    class Recording:
        def __init__(self):
            seen.append(("factory", inside[0]))

        transform_for_annotation = staticmethod(noting("transform_for_annotation"))
        annotate = staticmethod(noting("annotate"))
        validate = staticmethod(noting("validate"))

    monkeypatch.setattr(quantizer_run, "_fuse_conv_bn_", noting("ptq fusion", quantizer_run._fuse_conv_bn_))
    monkeypatch.setattr(quantizer_run, "_fuse_conv_bn_qat", noting("qat fusion", quantizer_run._fuse_conv_bn_qat))
    for qat in (False, True):
        gm = models.export_model("conv_bn_relu", train=qat)
        assert not run_quantizer(gm, quantizer_source(Recording, is_qat=qat), 30, traced=traced).failed
    assert seen == [("ptq fusion", False), ("factory", True), ("transform_for_annotation", True), ("annotate", True),
                    ("validate", True), ("factory", True), ("transform_for_annotation", True), ("annotate", True),
                    ("validate", True), ("qat fusion", False)]
