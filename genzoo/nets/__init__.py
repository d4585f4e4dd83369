"""Linen networks used inside genzoo models."""

from genzoo.nets.conv import ConvDecoder, ConvEncoder, check_downsamplable
from genzoo.nets.mlp import MLP, MLPDecoder, MLPEncoder

__all__ = ["MLP", "MLPEncoder", "MLPDecoder", "ConvEncoder", "ConvDecoder", "check_downsamplable"]
