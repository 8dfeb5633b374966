"""The limits of the case format are defined once (harness.case.limits) and the encoder keeps within the decoder's:
descriptive text of any length is written, clipped, and read back; a limit is the same number on both sides."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import case as C
from harness.case import compact_decode, compact_encode, decode, decode_fields, encode, files, limits
from harness.case.decode import case_from_json
from harness.case.encode import case_to_json
from harness.case.jsonform import CaseFormatError

# info field -> its limit: what the decoder refuses one character beyond, and what the encoder clips to
INFO_TEXT = {"title": limits.MAX_TITLE_LENGTH, "link": limits.MAX_LINK_LENGTH, "notes": limits.MAX_TEXT_LENGTH,
             "upstream": limits.MAX_UPSTREAM_LENGTH}


def _case(info: C.Info = C.Info(), expected: C.Expected | None = None) -> C.Case:
    graph = C.Graph((C.Node("x", "placeholder", tensor=C.TensorMeta((2,))), C.Node("output", "output",
                                                                                  args=((C.Ref("x"),),))))
    return C.Case(graph, (), expected=expected, info=info)


def _clipped(original: str, written: str, limit: int) -> bool:
    """``written`` is ``original`` if it fits, else its start and the ellipsis, exactly ``limit`` long."""
    if len(original) <= limit:
        return written == original
    return (len(written) == limit and written.endswith(limits.ELLIPSIS)
            and original.startswith(written[:-len(limits.ELLIPSIS)]))


_LONG = st.text(min_size=0, max_size=3_000) | st.integers(0, 4_000).map(lambda n: "s" * n)


@settings(max_examples=60, deadline=None)
@given(title=_LONG, link=_LONG, upstream=_LONG, tags=st.lists(_LONG, max_size=limits.MAX_TAGS + 20),
       error=st.none() | _LONG, notes_extra=st.integers(-2, 2))
def test_descriptive_text_of_any_length_is_written_and_read_back(title, link, upstream, tags, error, notes_extra):
    notes = "n" * (limits.MAX_TEXT_LENGTH + notes_extra)
    info = C.Info(title=title, kind="finding", link=link, notes=notes, upstream=upstream, tags=tuple(tags))
    case = _case(info, C.Expected(error=error) if error is not None else None)
    back = case_from_json(case_to_json(case))  # the old encoder let a 215-character tag through: refused here
    assert files.loads(files.dumps(case)) == back  # and through a file
    for field, limit in INFO_TEXT.items():
        assert _clipped(getattr(info, field), getattr(back.info, field), limit), field
    assert len(back.info.tags) == min(len(tags), limits.MAX_TAGS)
    assert all(_clipped(t, b, limits.MAX_TAG_LENGTH) for t, b in zip(tags, back.info.tags))
    if error is not None:
        assert _clipped(error, back.expected.error, limits.MAX_ERROR_LENGTH)
    assert back.graph == case.graph and back.info.kind == "finding"


@pytest.mark.parametrize("field", sorted(INFO_TEXT) + ["tags"])
def test_the_decoder_takes_exactly_what_the_encoder_writes(field):
    """At the limit both agree; one beyond it the decoder refuses, and the encoder writes the limit."""
    limit = limits.MAX_TAG_LENGTH if field == "tags" else INFO_TEXT[field]
    for length in (limit, limit + 1):
        text = "t" * length
        value = (text,) if field == "tags" else text
        data = case_to_json(_case())
        data["info"][field] = list(value) if field == "tags" else value
        if length > limit:
            with pytest.raises(CaseFormatError, match=rf"info\.{field}.*too long \({length} > {limit}\)"):
                case_from_json(data)
        else:
            case_from_json(data)
        written = case_to_json(_case(dataclasses.replace(C.Info(), **{field: value})))["info"][field]
        assert len(written[0] if field == "tags" else written) == limit


def test_the_expected_error_agrees_at_its_limit():
    data = case_to_json(_case(expected=C.Expected(error="E" * limits.MAX_ERROR_LENGTH)))
    assert case_from_json(data).expected.error == "E" * limits.MAX_ERROR_LENGTH
    data["expected"]["error"] += "E"
    with pytest.raises(CaseFormatError, match=r"expected\.error: string too long"):
        case_from_json(data)


def test_each_limit_has_one_definition():
    """The modules that read a limit hold the very object of harness.case.limits, not a copy of the number."""
    readers = [(m, name) for m in (decode, decode_fields, compact_decode, compact_encode, encode, files)
               for name in dir(m) if name.startswith("MAX_")]
    assert {name for _, name in readers} >= {"MAX_TAG_LENGTH", "MAX_FILE_BYTES", "MAX_EXPANDED_BYTES", "MAX_NODES",
                                             "MAX_OFFSET_DIGITS"}
    for module, name in readers:
        assert getattr(module, name) is getattr(limits, name), f"{module.__name__}.{name}"
    for path in Path(limits.__file__).parent.glob("*.py"):  # and none of the codec's modules defines its own
        assert path.name == "limits.py" or not re.search(r"^_?MAX_\w+ *=", path.read_text(), re.M), path.name


def test_a_case_too_large_to_load_is_not_saved(tmp_path, monkeypatch):
    """The file-size limit binds the writer too: it refuses what a reader would refuse, before writing."""
    case = _case(C.Info(notes="n" * 5_000))
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 4_000)
    with pytest.raises(CaseFormatError, match=r"too large to save \(\d+ bytes > 4000\)"):
        files.save_case(case, tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("text, limit, clipped", [("abcdef", 6, "abcdef"), ("abcdefg", 6, "abc..."),
                                                  ("abcdef", 2, "ab"), (None, 3, None), (7, 3, 7)])
def test_clip(text, limit, clipped):
    assert limits.clip(text, limit) == clipped
