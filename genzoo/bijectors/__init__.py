"""Bijectors: `distrax.Bijector` subclasses on events of any rank (one file each).

Each takes its event rank (`event_ndims`: 3 for images [H, W, C], the default; 2 for [T, C]; 1 for
vectors [D]); the last event axis holds channels. `Squeeze` is for images only, `GroupSamples`
turns waveforms [T] into [T / group, group], and `MultiScale` takes images or sequences [T, C]. They hold no parameters of their own: arrays and conditioner callables arrive
through the constructor, so a Flax module in `genzoo.models` owns the parameters and builds the
bijectors. A coupling is a partition, a conditioner and an elementwise transformer, each
replaceable on its own, and may see a context (`condition=`). `genzoo.testing.check_bijector`
verifies any bijector, these and yours.
"""

from genzoo.bijectors.actnorm import ActNorm, data_dependent_init
from genzoo.bijectors.conv1x1 import Invertible1x1Conv, LUInvertible1x1Conv, lu_init
from genzoo.bijectors.coupling import (
    Coupling,
    MaskPartition,
    SplitPartition,
    affine_transformer,
    bounded_log_scale,
    channel_mask,
    checkerboard_mask,
)
from genzoo.bijectors.functional import FunctionBijector
from genzoo.bijectors.logit import Logit
from genzoo.bijectors.mixture_cdf import LogisticMixtureCDF, mixture_cdf_transformer
from genzoo.bijectors.multiscale import Level, MultiScale, level_shapes
from genzoo.bijectors.squeeze import ChannelPermutation, GroupSamples, PairAdjacent, Squeeze, squeeze, unsqueeze

__all__ = [
    "ActNorm",
    "ChannelPermutation",
    "Coupling",
    "FunctionBijector",
    "GroupSamples",
    "Invertible1x1Conv",
    "LUInvertible1x1Conv",
    "Level",
    "Logit",
    "LogisticMixtureCDF",
    "MaskPartition",
    "MultiScale",
    "PairAdjacent",
    "SplitPartition",
    "Squeeze",
    "affine_transformer",
    "bounded_log_scale",
    "channel_mask",
    "checkerboard_mask",
    "data_dependent_init",
    "level_shapes",
    "lu_init",
    "mixture_cdf_transformer",
    "squeeze",
    "unsqueeze",
]
