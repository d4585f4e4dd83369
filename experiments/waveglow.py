"""WaveGlow experiments (Prenger et al. 2019). Pick a variant with `--config experiments/waveglow.py:VARIANT`.

speech: genzoo's offline speech (22,050 Hz; built on first use, about a minute), sized for 2 CPU
  cores in about 45 minutes: 12 flows over groups of 8 samples with early outputs of 2 channels
  every 4 flows as published, a WaveNet of 4 layers and 48 channels per coupling, segments of
  4,096 samples, batch 8, Adam 1e-3 with 200 warm-up steps, sigma 1.0 in training.
    genzoo train --config experiments/waveglow.py:speech --workdir runs/waveglow_speech
    genzoo sample --workdir runs/waveglow_speech --num 4 --sigma 0.6
    genzoo vocode --workdir runs/waveglow_speech --input speech.wav --output resynthesised.wav
  Measured (2 CPU cores, 35 minutes, 1.24 steps/s): test 10.48 bits per audio sample at step 1,250
  and 10.08 at 2,500 (16 for a uniform density); log-mel distance of the re-synthesised test
  windows 1.254 and 1.225 nats, against 0.203 for Griffin-Lim from the same mels. Not intelligible:
  noise that follows the utterances' loudness, without harmonics (see the README).

ljspeech: the published setting on LJSpeech 1.1 (TFDS `ljspeech`, for users with the data): 12
  flows, groups of 8, early outputs of 2 channels every 4 flows, a WaveNet of 8 layers with the
  released code's 256 channels (the paper: 512 residual and 256 skip channels), kernel 3; the
  mel upsampled by a transposed convolution of kernel 1,024 and stride 256; segments of 16,000
  samples, Adam 1e-4, batch 24 (the paper's, over 8 GPUs; the released config: 12 per GPU),
  580,000 steps, sigma 1.0 in training (the released config) and 0.6 at inference (the released
  inference command: `genzoo sample --sigma 0.6`). Published: mean opinion score 3.961 +- 0.134
  against 3.885 for WaveNet, 3.823 for Griffin-Lim and 4.274 for the recordings (table 1), and
  synthesis at more than 500 kHz on one V100 GPU (about 25 times faster than real time).

smoke: a tiny WaveGlow and a handful of steps on the offline speech, for tests.
"""

from genzoo import checks
from genzoo.config import smoke_schedule
from genzoo.tasks.flow import family_config, paper_schedule

VARIANTS = ("speech", "ljspeech", "smoke")


def get_config(variant: str = "speech"):
  checks.check_variant(variant, "waveglow", VARIANTS)
  config = family_config(dict(
      name="waveglow", num_flows=12, group=8, early_every=4, early_size=2, wavenet_layers=8, wavenet_channels=256,
      kernel_size=3, sigma=1.0, fft_size=1024, hop=256, num_mels=80, fmax=8000.0, upsample_kernel=1024, remat=True))
  config.data.name = "speech"
  config.data.segment_length = 16_000
  config.data.batch_size = 24
  config.data.eval_batch_size = 24
  config.optim.learning_rate = 1e-4
  config.eval.sample_temperature = 0.6  # inference sigma 0.6 over the training sigma 1.0: previews and vocode
  config.eval.sample_metrics = "log_mel_distance"  # of re-synthesised test windows, and Griffin-Lim's
  config.eval.metric_samples = 96
  config.train.num_samples = 4
  if variant == "speech":
    config.model.wavenet_layers = 4
    config.model.wavenet_channels = 48
    config.data.segment_length = 4096
    config.data.batch_size = 8
    config.data.eval_batch_size = 20
    config.optim.learning_rate = 1e-3
    config.optim.warmup_steps = 200
    config.optim.grad_clip_norm = 50.0
    config.train.steps = 2500
    config.train.log_every = 50
    config.train.checkpoint_every = 250
    config.train.eval_every = 1250
    config.train.sample_every = 1250
    config.train.on_nonfinite = "skip"
  elif variant == "ljspeech":
    paper_schedule(config, "ljspeech", 580_000)
  elif variant == "smoke":
    config.model.update(num_flows=4, early_every=2, group=4, wavenet_layers=2, wavenet_channels=8, hop=64,
                        fft_size=256, num_mels=16, upsample_kernel=128)
    config.data.segment_length = 1024
    config.data.batch_size = 4
    config.data.eval_batch_size = 64
    config.eval.metric_samples = 6
    smoke_schedule(config, num_samples=2)
  return config
