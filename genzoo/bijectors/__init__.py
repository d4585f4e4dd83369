"""Bijectors: `distrax.Bijector` subclasses on image events [..., H, W, C] (one file each).

They hold no parameters of their own: arrays and conditioner callables arrive through the
constructor, so a Flax module in `genzoo.models` owns the parameters and builds the bijectors.
`genzoo.testing.check_bijector` verifies any bijector, these and yours.
"""

from genzoo.bijectors.actnorm import ActNorm, data_dependent_init
from genzoo.bijectors.conv1x1 import Invertible1x1Conv, LUInvertible1x1Conv, lu_init
from genzoo.bijectors.coupling import (
    ChannelAffineCoupling,
    MaskedAffineCoupling,
    bounded_log_scale,
    channel_mask,
    checkerboard_mask,
)
from genzoo.bijectors.functional import FunctionBijector
from genzoo.bijectors.logit import Logit
from genzoo.bijectors.multiscale import Level, MultiScale, level_shapes
from genzoo.bijectors.squeeze import ChannelPermutation, Squeeze, squeeze, unsqueeze

__all__ = [
    "ActNorm",
    "ChannelAffineCoupling",
    "ChannelPermutation",
    "FunctionBijector",
    "Invertible1x1Conv",
    "LUInvertible1x1Conv",
    "Level",
    "Logit",
    "MaskedAffineCoupling",
    "MultiScale",
    "Squeeze",
    "bounded_log_scale",
    "channel_mask",
    "checkerboard_mask",
    "data_dependent_init",
    "level_shapes",
    "lu_init",
    "squeeze",
    "unsqueeze",
]
