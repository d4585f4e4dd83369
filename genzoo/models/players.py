"""The GAN player interface: what a generator and a discriminator declare, and the EMA policies.

A generator is a Linen module called `generator(z, labels, *, train)` (latents [N, L] -> images in
[-1, 1]); a discriminator `discriminator(x, labels, *, train)` (images -> one logit or critic value
each). `labels` [N] int32 are the class labels of class-conditional players and None for
unconditional ones (which ignore them). Each player declares, as class attributes,
CONFIG_KEYS (its fields -> the `model.*` keys that set them, e.g. {"width": "model.g_width"}) with
the CONFIG_RULES those keys must satisfy, and STATE_COLLECTIONS: the variable collections besides "params" that training updates (batch-norm
statistics, spectral-norm power iterations): applied mutable when `train`, checkpointed. A
generator also declares
  RNG_STREAMS: the random streams its `apply` draws from (e.g. StyleGAN's "noise" inputs), each
    given a fresh key per call;
  EMA_POLICY: how the moving average of its weights becomes the variables that sample.
A class-conditional player has a field `num_classes` (0 when it is unconditional), which must
match the data's. A generator with a truncation trick names the config key that sets it,
TRUNCATION_KEY (e.g. "model.truncation_psi"), which `genzoo sample/eval --truncation` overrides.
A style-based generator also has the methods `styles(z, labels, train)` (the
per-layer styles ws [N, num_ws, w_dim]), `synthesize(ws)` (images) and
`style_mixing_grid(...)`, which path length regularisation and style-mixing grids use.
A discriminator is deterministic given its inputs and variables (its input gradients define R1
and the gradient penalty), so it declares no random streams.
"""

import dataclasses

import flax.linen as nn

from genzoo import checks


def build(player_class: type, config, **provided) -> nn.Module:
  """The player with its fields from `config` (per its CONFIG_KEYS) and from the family
  (`provided`, e.g. the image shape)."""
  return player_class(**provided, **{field: checks.lookup(config, key) for field, key in player_class.CONFIG_KEYS.items()})


# The config keys of the generators and discriminators genzoo ships, with their rules.
GENERATOR_KEYS = {"width": "model.g_width"}
GENERATOR_RULES = {"model.g_width": checks.at_least(1)}


@dataclasses.dataclass(frozen=True)
class WeightsOnly:
  """The EMA weights with the generator's own state collections, as they are."""

  def sampling_variables(self, generator: nn.Module, variables: dict, inputs, apply) -> dict:
    del generator, inputs, apply
    return variables


@dataclasses.dataclass(frozen=True)
class StandingBatchStats:
  """For generators with batch norm (momentum in the field `bn_momentum`): the running statistics
  belong to the online weights, so recompute them for the EMA weights from one batch of `batch`
  latents ("standing statistics", Brock et al. 2019, BigGAN, sec. 4)."""

  batch: int = 256

  def sampling_variables(self, generator: nn.Module, variables: dict, inputs, apply) -> dict:
    """`inputs(num)` draws the batch (latents, labels or None) the statistics are taken on;
    `apply(module, variables, *args, **kwargs)` is how the task applies its players."""
    _, standing = apply(generator.clone(bn_momentum=0.0), variables, *inputs(self.batch), train=True,
                        mutable=["batch_stats"])
    return {**variables, **standing}


