"""The PyTorch peer the flow benchmarks compare genzoo's Glow with: normflows' multi-scale Glow
(the optional extra `pip install -e ".[bench]"` brings torch and normflows)."""

import math

import jax

from genzoo.models.flow_steps import FIXED_LU_ENTRIES


def trainable_count(params) -> int:
  """Entries of genzoo's parameters that training updates (the LU convolutions' permutations and
  signs stay fixed, as in normflows where they are buffers)."""
  leaves = jax.tree_util.tree_flatten_with_path(params)[0]
  return sum(math.prod(leaf.shape) for path, leaf in leaves if getattr(path[-1], "key", None) not in FIXED_LU_ENTRIES)


def peer_trainable_count(model) -> int:
  return sum(p.numel() for p in model.parameters() if p.requires_grad)


def peer_glow(image_shape: tuple[int, int, int], num_levels: int, num_steps: int, hidden: int,
              learned_priors: bool):
  """normflows' multi-scale Glow for images [C, H, W]: level i (top first) runs `num_steps`
  GlowBlocks on C * 2^(L + 1 - i) channels after its squeeze; its latents have a diagonal
  Gaussian, learned per position or fixed at N(0, I)."""
  import normflows as nf

  channels, height, width = image_shape
  q0, flows, merges = [], [], []
  for i in range(num_levels):
    depth = channels * 2 ** (num_levels + 1 - i)
    flows.append([nf.flows.GlowBlock(depth, hidden, split_mode="channel", scale=True) for _ in range(num_steps)]
                 + [nf.flows.Squeeze()])
    factor = 2 ** (num_levels - i)
    if i > 0:
      merges.append(nf.flows.Merge())
      latent = (channels * factor, height // factor, width // factor)
    else:
      latent = (channels * 2 * factor, height // factor, width // factor)
    q0.append(nf.distributions.DiagGaussian(latent, trainable=learned_priors))
  return nf.MultiscaleFlow(q0, flows, merges, class_cond=False)


def quiet_peer_warnings() -> None:
  import warnings

  warnings.filterwarnings("ignore", message="torch.lu is deprecated")  # inside normflows' LU convolution
