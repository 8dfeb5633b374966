"""The quantizer campaign's generator draws the mutants' gates (issue 14, mutation test): on graphs drawn as the
campaign draws them (the whole table, with motifs, from the fast source) and exported as it exports them, the gates
that were once never or seldom drawn (ceil-mode max pool, reflect pad, embedding padding_idx, SwiGLU, rsub,
hardsigmoid -> mul, hardswish of a conv) each occur in at least 1% of cases."""

from __future__ import annotations

import random
import warnings

import pytest
from torchao.quantization.pt2e.utils import _fuse_conv_bn_

from harness import strategies as S
from harness.mutants.quantizers import QUANTIZER_MUTANTS
from harness.strategies.fast import fast_example
from harness.suite.subjects.case_graphs import graph_module_for_quantizer

# the gates measured at 0-0.9% before the motifs and spellings of the mutation test (/tmp scripts, 1,500 cases)
ONCE_RARE = ("x86_max_pool_ceil_mode", "et_xnnpack_reflect_pad", "xnnpack_embedding_padding_idx",
             "et_xnnpack_swiglu_derived", "et_xnnpack_rsub_scalar", "arm_hardsigmoid_mul_axis",
             "xnnpack_hardswish_after_conv")
CASES = 1200  # at a rate near 1.4% (the ceil-mode pool: 5, 6 and 15 in 600 at three seeds), 600 was too few to tell


@pytest.mark.slow  # 1,200 exports, about 80 s
def test_the_once_rare_gates_are_drawn_in_one_case_in_a_hundred_or_more():
    strategy = S.graphs(min_nodes=1, max_nodes=10, ops=S.GENERATED_OPS, motifs=True)  # the campaign's graphs
    hits = dict.fromkeys(ONCE_RARE, 0)
    rnd = random.Random(14)
    for _ in range(CASES):
        gm = graph_module_for_quantizer(fast_example(strategy, rnd))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                _fuse_conv_bn_(gm)  # prepare_pt2e fuses batch norms before annotate(), where the gates are read
            except RuntimeError:  # torchao's fusion fails on some graphs (a known upstream bug): counted unfused
                pass
        for name in ONCE_RARE:
            hits[name] += bool(QUANTIZER_MUTANTS[name].find(gm))
    rare = {name: n / CASES for name, n in hits.items() if n < CASES / 100}
    assert not rare, (rare, hits)
