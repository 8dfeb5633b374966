"""The limits of the case JSON format, defined once: the decoder refuses what exceeds them, the encoder keeps within
them.

The rule: the decoder (``harness.case.decode``, ``harness.case.decode_fields``, ``harness.case.compact_decode``) and
the corpus files (``harness.case.files``) read every size and length limit from here, and the writers
(``harness.case.encode``, ``harness.case.files.dumps``) read the same names, so that what is written is what can
be read back. The descriptive text of a case (its info's title, link, notes, upstream and tags, and the name of
the error it expects) is clipped to its limit by :func:`clip` when it is written, ending in :data:`ELLIPSIS`
(a finding named by a long signature is still saved); everything else over a limit is a case that may not exist,
written as it is and refused when read.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MAX_NODES",
    "MAX_ANNOTATIONS",
    "MAX_TENSOR_ELEMENTS",
    "MAX_DIMS",
    "MAX_DEPTH",
    "MAX_ARGS",
    "MAX_INPUTS",
    "MAX_CTOR_KWARGS",
    "MAX_DERIVED_FROM",
    "MAX_TAGS",
    "MAX_NAME_LENGTH",
    "MAX_WORD_LENGTH",
    "MAX_CONST_LENGTH",
    "MAX_QSCHEME_LENGTH",
    "MAX_TARGET_LENGTH",
    "MAX_ARG_TEXT_LENGTH",
    "MAX_QUALNAME_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_TITLE_LENGTH",
    "MAX_LINK_LENGTH",
    "MAX_UPSTREAM_LENGTH",
    "MAX_TAG_LENGTH",
    "MAX_ERROR_LENGTH",
    "MAX_FILE_BYTES",
    "MAX_EXPANDED_BYTES",
    "MAX_OFFSET_DIGITS",
    "ELLIPSIS",
    "clip",
]

# counts
MAX_NODES = 5_000  # nodes of a graph
MAX_ANNOTATIONS = 5_000  # annotations of a case
MAX_TENSOR_ELEMENTS = 2**24  # elements of one placeholder or attribute tensor
MAX_DIMS = 16  # dimensions of a tensor
MAX_DEPTH = 16  # nesting of argument tuples, observer kwargs and (four times this) expected.canonical
MAX_ARGS = 1_000  # args, and kwargs, of one node
MAX_INPUTS = 1_000  # inputs of one annotation
MAX_CTOR_KWARGS = 100  # kwargs of one observer constructor
MAX_DERIVED_FROM = 100  # targets a derived spec is derived from
MAX_TAGS = 100  # tags of a case's info

# lengths of strings, in characters
MAX_NAME_LENGTH = 200  # a node name, a kwarg name
MAX_WORD_LENGTH = 40  # a node's op kind, a dtype, a constant's kind
MAX_CONST_LENGTH = 80  # a constant's value
MAX_QSCHEME_LENGTH = 60  # a qscheme
MAX_TARGET_LENGTH = 1_000  # a node's target (an op name or an attribute path)
MAX_ARG_TEXT_LENGTH = 1_000  # a string argument of a node
MAX_QUALNAME_LENGTH = 300  # an observer class, a derive function, info.quantizer
MAX_TEXT_LENGTH = 100_000  # info.notes, and any string without a smaller limit
MAX_TITLE_LENGTH = 1_000  # info.title, info.failure
MAX_LINK_LENGTH = 2_000  # info.link
MAX_UPSTREAM_LENGTH = 100  # info.upstream
MAX_TAG_LENGTH = 200  # one of info.tags
MAX_ERROR_LENGTH = 200  # expected.error (the name of the error the reference raises)

# documents, in bytes
MAX_FILE_BYTES = 4 * 1024 * 1024  # a corpus file, or JSON text handed to harness.case.files.loads
MAX_EXPANDED_BYTES = 8 * 1024 * 1024  # all runs of a compact document, expanded (twice the largest plain file)
MAX_OFFSET_DIGITS = 9  # digits of N in a compact template's placeholder {i+N} or {i-N}

ELLIPSIS = "..."  # ends a clipped text (ASCII, so the file stays readable as written)


def clip(text: Any, limit: int) -> Any:
    """``text`` if it is within ``limit`` characters, else its start and :data:`ELLIPSIS`, ``limit`` characters in
    all; a value that is not a string is returned as it is (the decoder names it)."""
    if not isinstance(text, str) or len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return text[:limit]
    return text[:limit - len(ELLIPSIS)] + ELLIPSIS
