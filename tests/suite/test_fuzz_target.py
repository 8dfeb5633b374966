"""The quantizer fuzz target's naming of findings (:func:`harness.suite.fuzz_target.problem_class`)."""

from __future__ import annotations

from harness.suite.fuzz_target import problem_class
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
