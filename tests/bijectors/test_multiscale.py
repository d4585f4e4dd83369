"""The multi-scale layout: what each level sees and splits off, for images and sequences."""

import pytest

from genzoo import bijectors
from genzoo.errors import UserError


def test_sequences_split_off_a_given_number_of_channels_without_squeezing():
  levels = [bijectors.Level(squeeze=False, split_channels=2), bijectors.Level(squeeze=False, split_channels=2),
            bijectors.Level(squeeze=False, split=False)]
  inner, pieces = bijectors.level_shapes((1000, 8), levels)
  assert inner == [(1000, 8), (1000, 6), (1000, 4)] and pieces == [(1000, 2), (1000, 2), (1000, 4)]


def test_images_squeeze_and_split_off_half_by_default():
  inner, pieces = bijectors.level_shapes((8, 8, 3), [bijectors.Level(), bijectors.Level(split=False)])
  assert inner == [(4, 4, 12), (2, 2, 24)] and pieces == [(4, 4, 6), (2, 2, 24)]


@pytest.mark.parametrize("shape, level, message", [
    ((10, 4), bijectors.Level(squeeze=False, split_channels=4),
     r"a level cannot split 4 of its 4 channels off: at least one must go and one stay"),
    ((10, 4), bijectors.Level(), r"squeezes take images \[H, W, C\]; events of shape \(10, 4\) cannot be squeezed"),
])
def test_impossible_levels_are_refused(shape, level, message):
  with pytest.raises(UserError, match=message):
    bijectors.level_shapes(shape, [level])
