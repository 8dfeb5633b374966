"""The judged bugs of real quantizers as the plugin and the suite report them, shared by the tests that run those
quantizers (``tests/plugin/test_real_quantizers.py``, ``tests/suite/test_executorch_quantizers.py``): a run may fail
only with its quantizer's listed bugs (docs/upstream-bugs.md, "Bugs found in real quantizers", has the judgements;
``corpus/quantizer_bugs`` the cases)."""

from __future__ import annotations

import re
from dataclasses import dataclass

@dataclass(frozen=True)
class QuantizerBug:
    """A judged upstream bug as the plugin reports it: a failed test whose name matches ``test`` and whose report
    matches ``report`` (regular expressions, searched). ``always``: a fixed model meets it, so the run must fail
    with it (the day upstream fixes it, the test says so). ``evidence``: where it is in upstream's source and how to
    reproduce it (docs/upstream-bugs.md, "Bugs found in real quantizers", has the judgement)."""

    id: str
    test: str
    report: str
    evidence: str
    always: bool = False

    def explains(self, test: str, report: str) -> bool:
        return bool(re.search(self.test, test) and re.search(self.report, report))


AO = "https://github.com/pytorch/ao/blob/v0.18.0/torchao/quantization/pt2e"
ET_SRC = "https://github.com/pytorch/executorch/blob/v1.5.1"
ENN = f"{ET_SRC}/backends/samsung/quantizer/annotator.py"
RANDOM = r"^random_graphs\[\d+\]"  # the random-graph chunks (PTQ and QAT: [qat] follows)
# torchao's X86InductorQuantizer, whose annotator ArmInductorQuantizer inherits (upstream bugs 5, 6, 7, 14 and 21)
INDUCTOR = (
    QuantizerBug("x86-conv-string-padding", RANDOM, r"raised ValueError: \w+ is not an aten conv2d operator",
                 f"nn.Conv2d(padding='same') exports as aten.conv2d.padding, which _annotate_conv2d rejects "
                 f"({AO}/quantizer/x86_inductor_quantizer.py, repros/x86_inductor_conv_padding_same.py)"),
    QuantizerBug("x86-unused-conv", RANDOM, r"raised IndexError[\s\S]*in _annotate_conv2d: .*output_nodes\[0\]",
                 f"a conv whose result is unused has a partition without output nodes "
                 f"({AO}/quantizer/x86_inductor_quantizer.py, repros/x86_inductor_unused_conv.py)"),
    QuantizerBug("x86-in-place-add-unused", RANDOM,
                 r"raised IndexError[\s\S]*in _get_output_nodes_of_partitions: .*output_nodes\[0\]",
                 f"self.state.add_(self.conv(x)): the add_'s partition has no output node "
                 f"({AO}/quantizer/x86_inductor_quantizer.py#L639-L655, repros/x86_inductor_in_place_add_unused.py)"),
    QuantizerBug("x86-linear-plus-scalar", RANDOM, r"raised AssertionError[\s\S]*_get_input_idx_for_binary_node",
                 f"linear(x) + 0.5: the linear-add fusion asserts the add's other operand is a node "
                 f"({AO}/quantizer/x86_inductor_quantizer.py, repros/x86_inductor_linear_plus_scalar.py)"),
    QuantizerBug("x86-add-spellings-one-partition", RANDOM,
                 r"raised ValueError: Input partition has more than one output node|raised (TypeError|AttributeError)"
                 r"[\s\S]*in _get_input_idx_for_binary_node",
                 f"torch.add beside (or chained into) Tensor.add: export names both add_1, one source partition "
                 f"({AO}/quantizer/x86_inductor_quantizer.py#L639-L655, "
                 f"repros/x86_inductor_add_spellings_one_partition.py)"),
)
ENN_BUGS = (
    QuantizerBug("enn-self-shared-add", RANDOM, r"CyclicSharingError",
                 f"x + x: annotate_2in1out_with_SharedQuant keys input_qspec_map by node ({ENN}#L257-L278)"),
    QuantizerBug("enn-ancestor-key", RANDOM, r"NotAnInputError|DanglingReferenceError",
                 f"annotate_1in1out_with_SharedQuant keys by the nearest annotated ancestor ({ENN}#L463-L485)"),
    QuantizerBug("enn-unbind-ancestor-edge", RANDOM, r"DanglingReferenceError: SharedQuantizationSpec of output of "
                 r"'(unbind|getitem)",
                 f"annotate_unbind shares with the edge from the nearest annotated ancestor ({ENN}#L574-L605, "
                 f"repros/executorch_enn_unbind_ancestor_edge.py)"),
    QuantizerBug("enn-hardtanh-default-bounds", RANDOM, r"raised IndexError[\s\S]*_is_hardtanh_for_relux",
                 f"hardtanh_ without its default bounds: node.args[1] ({ENN}#L104-L115)"),
    QuantizerBug("enn-layer-norm-without-weight", RANDOM, r"input_qspec_map key None is not a node",
                 f"annotate_layer_norm maps a missing weight ({ENN}#L741-L761, "
                 f"repros/executorch_enn_layer_norm_without_weight.py)"),
    QuantizerBug("enn-rms-norm-without-weight", RANDOM, r"raised IndexError[\s\S]*in annotate_rms_norm",
                 f"annotate_rms_norm reads node.args[2], the weight an RMSNorm without affine lacks "
                 f"({ENN}#L696-L715, repros/executorch_enn_rms_norm_without_weight.py)"),
)
EXAMPLE = f"{ET_SRC}/backends/example/example_operators/add.py"
EXAMPLE_BUGS = (
    QuantizerBug("example-unused-result", RANDOM, r"raised IndexError[\s\S]*in _annotate_\w+: .*output_nodes\[0\]",
                 f"an add (in place on a buffer), linear or conv whose result is unused has no output node: "
                 f"partitions[0].output_nodes[0] ({EXAMPLE}#L22)"),
    QuantizerBug("example-add-scalar", RANDOM, r"input_qspec_map key -?[\d.]+ is not a node",
                 f"x + 1.0: _annotate_add maps the scalar operand ({EXAMPLE}#L17-L35, "
                 f"repros/executorch_example_add_scalar.py)"),
)
ARM_VALIDATE = QuantizerBug(
    "arm-validate-symint-device", RANDOM, r"validate\(\) raised ValueError: .*different device inputs",
    f"validate() takes a SymInt for a device ({ET_SRC}/backends/arm/quantizer/arm_quantizer.py#L909-L957, "
    f"repros/executorch_arm_validate_symint.py)")
ARM_ADDMM = QuantizerBug(
    "arm-addmm-parameter", RANDOM,
    r"transform_for_annotation\(\) raised Exception: .*ReplaceScalarWithTensor[\s\S]*AttributeError: .*to_tensor",
    f"addmm(self.bias, x, self.weight): the bias's mul.Scalar reaches get_replacement as a Parameter "
    f"({ET_SRC}/backends/transforms/replace_scalar_with_tensor.py#L49-L79, repros/executorch_arm_addmm_parameter.py)")
_FUSION = (f"torchao's _fuse_conv_bn_qat leaves the batch norm's annotation keyed by the conv it no longer reads "
           f"({AO}/qat_utils.py)")
ARM_QAT_FUSION = QuantizerBug("ao-qat-fusion-keeps-bn-key", r"^well_formed\[conv_bn_relu\]\[qat\]", r"NotAnInputError",
                              _FUSION, always=True)
ARM_QAT_FUSION_RANDOM = QuantizerBug(
    "ao-qat-fusion-keeps-bn-key-random", RANDOM,
    r"NotAnInputError: input_qspec_map of node 'batch_norm\w*' annotates 'conv\w*'", _FUSION)
QNN = f"{ET_SRC}/backends/qualcomm/quantizer"
QNN_GRAPH_EDITS = QuantizerBug(
    "qnn-annotate-edits-graph", RANDOM, r"annotate\(\) changed the graph",
    f"annotate() adds a zero conv bias in QAT ({QNN}/conv_bn.py) and rewrites infinite constants ({QNN}/quantizer.py)")
CORTEX_M_MATMUL = QuantizerBug(
    "cortex-m-matmul-parameter", RANDOM, r"transform_for_annotation\(\) raised AttributeError: .*to_tensor",
    f"MatmulToBmmPass calls .to_tensor() on a parameter operand "
    f"({ET_SRC}/backends/cortex_m/passes/matmul_to_bmm_pass.py#L48-L51, "
    f"repros/executorch_cortex_m_matmul_parameter.py)")
AO_TESTING = "https://github.com/pytorch/ao/blob/v0.18.0/torchao/testing/pt2e/_xnnpack_quantizer_utils.py"
# torchao's test copy of the XNNPACK quantizer: a random graph's nn.AdaptiveAvgPool2d whose result is unused (upstream
# bug 23; the cat's partition needs a strict export, which the plugin's graphs are not) and an nn.GRU (bug 24)
XNNPACK_BUGS = (
    QuantizerBug("ao-xnnpack-unused-adaptive-avg-pool2d", RANDOM,
                 r"raised IndexError[\s\S]*in _annotate_(adaptive_avg_pool2d|cat): .*output_nodes\[0\]",
                 f"an unused adaptive average pool or cat has a partition without output nodes "
                 f"({AO_TESTING}#L675-L692, repros/torchao_xnnpack_unused_adaptive_avg_pool2d.py)"),
    QuantizerBug("ao-xnnpack-gru", RANDOM, r"raised (IndexError|AssertionError)[\s\S]*in _annotate_gru_io_only",
                 f"a GRU without an initial state, or with its last hidden state unused (upstream bug 24) "
                 f"({AO_TESTING}#L622-L670, repros/torchao_xnnpack_gru.py)"),
)
KNOWN: dict[tuple[str, str], tuple[QuantizerBug, ...]] = {
    **{(n, m): XNNPACK_BUGS for n in ("xnnpack", "xnnpack_per_tensor") for m in ("ptq", "qat")},
    **{(n, m): INDUCTOR for n in ("x86_inductor", "arm_inductor") for m in ("ptq", "qat")},
    ("executorch_samsung_enn", "ptq"): ENN_BUGS, ("executorch_samsung_enn", "qat"): ENN_BUGS,
    ("executorch_example", "ptq"): EXAMPLE_BUGS,
    ("executorch_qnn", "ptq"): (QNN_GRAPH_EDITS,), ("executorch_qnn", "qat"): (QNN_GRAPH_EDITS,),
    **{(f"executorch_arm_{n}", "ptq"): (ARM_VALIDATE, ARM_ADDMM) for n in ("tosa", "ethosu", "vgf")},
    **{(f"executorch_arm_{n}", "qat"): (ARM_VALIDATE, ARM_ADDMM, ARM_QAT_FUSION, ARM_QAT_FUSION_RANDOM)
       for n in ("tosa", "ethosu", "vgf")},
    ("executorch_cortex_m", "ptq"): (CORTEX_M_MATMUL,),
}
