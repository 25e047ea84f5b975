"""The per-call shortcuts of the Sesame path give exactly what the slow, obvious code gives.

Each shortcut (a str.translate form encoder, one pass of json's C scanner over the answer, the
Sandbox gateway parsing each form once) is checked against the standard library doing the same
job: ``urlencode``, ``json.loads`` and ``parse_qs``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditsdk.errors import ResponseIntegrityError
from creditsdk.sesame import _protocol as p
from creditsdk.sesame import sandbox as zs

ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
ASCII_TEXT = st.text(st.characters(max_codepoint=127), max_size=12)
EXAMPLES = settings(max_examples=300, deadline=None)


@EXAMPLES
@given(st.dictionaries(st.one_of(ANY_TEXT, ASCII_TEXT), st.one_of(ANY_TEXT, ASCII_TEXT)))
def test_form_encode_is_urlencode(params: dict[str, str]) -> None:
    from urllib.parse import urlencode

    assert p.form_encode(params) == urlencode(params)


def test_form_encode_of_a_signature_and_a_timestamp() -> None:
    params = {"sign": "ab+/cd==", "timestamp": "2026-12-02 08:00:00", "名": "值 x"}
    assert p.form_encode(params) == (
        "sign=ab%2B%2Fcd%3D%3D&timestamp=2026-12-02+08%3A00%3A00&%E5%90%8D=%E5%80%BC+x"
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)


@EXAMPLES
@given(
    st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=5),
    st.sampled_from(["", " ", "\n  ", "\t"]),
    st.booleans(),
)
def test_the_scan_reads_what_json_loads_reads(
    obj: dict[str, Any], space: str, ascii_only: bool
) -> None:
    sep = (space + "," + space, space + ":" + space)
    text = space + json.dumps(obj, separators=sep, ensure_ascii=ascii_only) + space
    members = p._scan_top_level(text)
    assert {k: v for k, (_s, _e, v) in members.items()} == json.loads(text)
    for key, (start, end, value) in members.items():
        assert json.loads(text[start:end]) == value == obj[key]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{}x", "not valid JSON"),
        ("{} {}", "not valid JSON"),
        ('{"a":1,}', "not valid JSON"),
        ('{"a" 1}', "not valid JSON"),
        ("{a:1}", "not valid JSON"),
        ('{"a":1 "b":2}', "not valid JSON"),
        ('{"a":01}', "not valid JSON"),
        ('{"a":"\x01"}', "not valid JSON"),  # a raw control character: json.loads refuses it
        ("", "not valid JSON"),
        ("nul", "not valid JSON"),
        ('"text"', "not a JSON object"),
        ('{"a":1,"a":2}', "repeats"),
    ],
)
def test_the_scan_refuses_what_json_loads_refuses(text: str, match: str) -> None:
    with pytest.raises(ResponseIntegrityError, match=match):
        p._scan_top_level(text)


# -- the Sandbox gateway's form parse --------------------------------------------------------

CHARSETS = st.sampled_from(["utf-8", "gbk", "gb18030", "latin-1"])


def _form(pairs: list[tuple[str, str]], charset: str) -> str:
    def enc(text: str) -> str:
        return quote(text.encode(charset, "replace"), safe="").replace("%20", "+")

    return "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs)


@EXAMPLES
@given(
    st.lists(st.tuples(ANY_TEXT, ANY_TEXT), max_size=6),
    CHARSETS,
    st.binary(max_size=6),
)
def test_the_gateway_form_parse_is_parse_qs(
    pairs: list[tuple[str, str]], charset: str, junk: bytes
) -> None:
    # Percent-escapes in the charset, plus escaped bytes that are not valid in it.
    source = _form(pairs, charset) + "&" + quote(b"j" + junk, safe="") + "=" + quote(junk)
    first, _ = zs._first_values(source)
    expected = {
        k: v[0]
        for k, v in parse_qs(
            source, keep_blank_values=True, encoding=charset, errors="replace"
        ).items()
    }
    assert zs._in_charset(first, charset) == expected


def test_the_gateway_finds_the_first_non_blank_charset() -> None:
    first, charset = zs._first_values("charset=&a=1&charset=GBK&charset=utf-8")
    assert charset == "GBK"
    assert first == {"charset": "", "a": "1"}
