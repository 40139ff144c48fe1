"""manual_seed: the global generator restarts from the seed; bad seeds are refused."""

import numpy as np
import pytest

import odyssey
from odyssey import random


def test_manual_seed_restarts_the_stream():
    odyssey.manual_seed(123)
    first = random.generator().standard_normal(5)
    odyssey.manual_seed(123)
    np.testing.assert_array_equal(random.generator().standard_normal(5), first)
    assert odyssey.initial_seed() == 123


def test_different_seeds_differ():
    odyssey.manual_seed(1)
    a = random.generator().standard_normal(5)
    odyssey.manual_seed(2)
    assert not np.array_equal(a, random.generator().standard_normal(5))


@pytest.mark.parametrize("seed", [-1, 2**64])
def test_seed_out_of_range(seed):
    with pytest.raises(ValueError, match="seed must be in"):
        odyssey.manual_seed(seed)


@pytest.mark.parametrize("seed", [1.5, "3", True, None])
def test_seed_not_an_int(seed):
    with pytest.raises(TypeError, match="manual_seed: seed must be an int, got "):
        odyssey.manual_seed(seed)
