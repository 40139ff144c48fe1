"""Philox4x32-10: the published known answers and an independent pure-Python implementation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odyssey import _kernels

# Random123 1.14, tests/kat_vectors (github.com/DEShawResearch/random123, commit 9545ff64): the
# "philox4x32 10" lines as (counter, key, expected output).
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    (
        (0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
        (0xFFFFFFFF, 0xFFFFFFFF),
        (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD),
    ),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]

MASK = 0xFFFFFFFF


def philox4x32_10(key: tuple[int, int], counter: tuple[int, int, int, int]) -> tuple[int, ...]:
    """The paper's algorithm written out in Python integers."""
    k0, k1 = key
    c0, c1, c2, c3 = counter
    for round_ in range(10):
        if round_ > 0:
            k0, k1 = (k0 + 0x9E3779B9) & MASK, (k1 + 0xBB67AE85) & MASK
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK, (p0 >> 32) ^ c3 ^ k1, p0 & MASK
    return c0, c1, c2, c3


@pytest.mark.parametrize(("counter", "key", "expected"), KNOWN_ANSWERS)
def test_known_answers(
    counter: tuple[int, int, int, int], key: tuple[int, int], expected: tuple[int, ...]
) -> None:
    assert _kernels.philox4x32(key, counter) == expected
    assert philox4x32_10(key, counter) == expected


words = st.integers(0, MASK)


@settings(max_examples=200, deadline=None)
@given(key=st.tuples(words, words), counter=st.tuples(words, words, words, words))
def test_matches_the_python_implementation(
    key: tuple[int, int], counter: tuple[int, int, int, int]
) -> None:
    assert _kernels.philox4x32(key, counter) == philox4x32_10(key, counter)


def test_neighbouring_counters_differ_in_about_half_the_bits() -> None:
    base = _kernels.philox4x32((1, 2), (0, 0, 0, 0))
    for word in range(4):
        counter = [0, 0, 0, 0]
        counter[word] = 1
        other = _kernels.philox4x32((1, 2), tuple(counter))
        flipped = sum(bin(a ^ b).count("1") for a, b in zip(base, other, strict=True))
        assert 32 <= flipped <= 96


@pytest.mark.parametrize(
    ("key", "counter", "error"),
    [
        ((0,), (0, 0, 0, 0), ValueError),
        ((0, 0), (0, 0, 0), ValueError),
        ((-1, 0), (0, 0, 0, 0), ValueError),
        ((0, 0), (0, 0, 0, 2**32), ValueError),
        ((0, 0.5), (0, 0, 0, 0), TypeError),
        ((True, 0), (0, 0, 0, 0), TypeError),
    ],
)
def test_rejects_bad_words(key: tuple, counter: tuple, error: type[Exception]) -> None:
    with pytest.raises(error):
        _kernels.philox4x32(key, counter)
