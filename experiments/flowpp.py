"""Flow++ experiments (Ho et al. 2019). Pick a variant with `--config experiments/flowpp.py:VARIANT`.

mnist5k: sized for 2 CPU cores in about 30 minutes: the ImageNet 64x64 structure (a squeeze
  first, then 4 checkerboard couplings at 14x14 and 3 channel couplings at 7x7; attention over
  the 392 positions of the unsqueezed image made a step 8x slower), 32 filters, 2 blocks, 8
  components, dropout 0.1, EMA 0.999; a dequantiser of 2 couplings of 1 block (16 filters, no
  attention) on a 16-channel, 1-block context; 1,500 steps of Adam 1e-3, batch 64, clip 1.
    genzoo train --config experiments/flowpp.py:mnist5k --workdir runs/flowpp_mnist5k
    genzoo eval --workdir runs/flowpp_mnist5k --iwae-k 16
    genzoo sample --workdir runs/flowpp_mnist5k --temperature 0.7
  Measured (0.9 steps/s): test bits/dim over the whole test split 2.321 at step 500, 2.014 at
  1,000, 1.881 at 1,500; importance-weighted with S = 16 and 256: 1.862 and 1.852.
mnist5k_uniform: the same with uniform dequantisation (the paper's first ablation). Measured:
  2.363, 2.084, 1.972 at the same steps.

digits: a small Flow++ on the 8x8 digits (17 levels). Measured: 2.172 bits/dim after 300 steps
  (3 minutes).

cifar10: the paper's CIFAR-10 model (the code's `flows/run_cifar.py`, 31.4M parameters there):
  96 filters, 10 blocks, 32 mixture components, 4 attention heads, dropout 0.2, 1x1 convolutions;
  variational dequantisation by 4 couplings of 2 blocks conditioned on a 32-channel, 3-block
  context; Adam at 3e-4 after 2,000 warm-up steps, batch 64, gradient clipping at norm 1,
  parameter EMA 0.999. Published: 3.08 bits/dim (table 1; Glow 3.35, RealNVP 3.49). Ablations
  after 400 epochs (table 2): Flow++ 3.165, uniform dequantisation 3.292, affine couplings 3.200,
  no self-attention 3.193. The 312,500 steps here are those 400 epochs.
cifar10_uniform / cifar10_affine / cifar10_no_attention: those ablations (the paper widens the
  first two to 104 and 108 filters to keep the parameter count; so do these). Affine couplings
  (`components=0`) are x * exp(tanh(s)) + t, in the dequantiser too.

downsampled_imagenet_32: the code's ImageNet 32x32 launcher: 128 filters, 20 blocks, 32
  components, no dropout, no 1x1 convolutions, 7 checkerboard couplings, a squeeze, 3 channel and
  3 checkerboard couplings; dequantisation by 8 couplings of 8 blocks; Adam at 1e-3 after 5,000
  warm-up steps (the launcher then decays towards 3e-4; genzoo keeps 1e-3), batch 32, EMA 0.999222.
  Published: 3.86 bits/dim (Glow 4.09).
downsampled_imagenet_64: the ImageNet 64x64 launcher: a squeeze first, 96 filters, 16 blocks, 4
  components, scales of (0, 4), (2, 2), (2, 2) channel and checkerboard couplings; dequantisation
  by 4 couplings of 5 blocks without attention; Adam at 4e-4 after 10,000 warm-up steps, batch 72,
  EMA 0.999. Published: 3.69 bits/dim (Glow 3.81).
  Both ImageNet dequantisers condition on a deeper context (8 gated blocks with attention) than
  genzoo's `ContextProcessor` (gated convolutions only).

smoke: a tiny Flow++ with variational dequantisation and a handful of steps on `digits`, for tests.
"""

import ml_collections

from genzoo.tasks.flow import experiment_config, paper_schedule

VARIANTS = ("mnist5k", "mnist5k_uniform", "digits", "cifar10", "cifar10_uniform", "cifar10_affine",
            "cifar10_no_attention", "downsampled_imagenet_32", "downsampled_imagenet_64", "smoke")

CIFAR10_MODEL = dict(name="flowpp", checkerboard_couplings=(4, 3), channel_couplings=(0, 2), squeeze_first=False,
                     filters=96, blocks=10, components=32, heads=4, dropout=0.2, attention=True, pointwise=True,
                     remat=True)
CIFAR10_DEQUANTIZER = dict(name="variational", couplings=4, filters=96, blocks=2, components=32, heads=4,
                           dropout=0.2, attention=True, pointwise=True, context_channels=32, context_blocks=3,
                           remat=True)


def paper_setting(config, dataset: str, train_steps: int, learning_rate: float, warmup_steps: int,
                  batch_size: int, ema_decay: float) -> None:
  paper_schedule(config, dataset, train_steps)
  config.optim.learning_rate = learning_rate
  config.optim.warmup_steps = warmup_steps
  config.optim.ema_decay = ema_decay
  config.data.batch_size = batch_size


def get_config(variant: str = "mnist5k"):
  config = experiment_config(variant, "flowpp", VARIANTS, model=CIFAR10_MODEL, grad_clip_norm=1.0)
  config.dequantizer.update(CIFAR10_DEQUANTIZER)
  if variant.startswith("mnist5k"):
    config.data.name = "mnist5k"
    config.model.update(squeeze_first=True, checkerboard_couplings=(4, 0), channel_couplings=(0, 3), filters=32,
                        blocks=2, components=8, dropout=0.1)
    config.dequantizer.update(filters=16, blocks=1, components=8, couplings=2, attention=False, dropout=0.1,
                              context_channels=16, context_blocks=1)
    config.optim.ema_decay = 0.999
    config.train.steps = 1500
    config.train.eval_every = 500
  elif variant == "digits":
    config.model.update(checkerboard_couplings=(4, 2), channel_couplings=(0, 2), filters=32, blocks=2, components=8)
    config.dequantizer.update(filters=32, blocks=1, components=8, couplings=2, context_channels=16, context_blocks=2)
  elif variant.startswith("cifar10"):
    paper_setting(config, "cifar10", 312_500, 3e-4, 2000, 64, 0.999)
  elif variant == "downsampled_imagenet_32":
    paper_setting(config, "downsampled_imagenet/32x32", 600_000, 1e-3, 5000, 32, 0.999222)
    config.model.update(checkerboard_couplings=(7, 3), channel_couplings=(0, 3), filters=128, blocks=20,
                        dropout=0.0, pointwise=False)
    config.dequantizer.update(couplings=8, filters=128, blocks=8, dropout=0.0, pointwise=False)
  elif variant == "downsampled_imagenet_64":
    paper_setting(config, "downsampled_imagenet/64x64", 300_000, 4e-4, 10_000, 72, 0.999)
    config.model.update(squeeze_first=True, checkerboard_couplings=(4, 2, 2), channel_couplings=(0, 2, 2),
                        filters=96, blocks=16, components=4, dropout=0.0, pointwise=False)
    config.dequantizer.update(blocks=5, components=4, dropout=0.0, pointwise=False, attention=False)
  elif variant == "smoke":
    config.model.update(checkerboard_couplings=(2, 1), channel_couplings=(0, 1), filters=8, blocks=1,
                        components=2, heads=2)
    config.dequantizer.update(couplings=1, filters=8, blocks=1, components=2, heads=2, context_channels=4,
                              context_blocks=1)
  if variant.endswith("_uniform"):
    config.dequantizer = ml_collections.ConfigDict(dict(name="uniform"))
    if variant == "cifar10_uniform":
      config.model.filters = 104
  elif variant == "cifar10_affine":
    config.model.update(filters=108, components=0)
    config.dequantizer.components = 0
  elif variant == "cifar10_no_attention":
    config.model.attention = False
    config.dequantizer.attention = False
  return config
