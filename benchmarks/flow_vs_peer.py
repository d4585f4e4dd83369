"""genzoo's Glow against the same Glow in normflows (PyTorch), trained with one recipe.

    pip install -e ".[bench]"   # torch and normflows, for this script only
    python benchmarks/flow_vs_peer.py [--config experiments/glow.py:mnist5k] [--steps 3000]
        [--eval_every 1000] [--only genzoo|normflows] [--json FILE] [--config.KEY=VALUE ...]

Both libraries train the Glow that the config describes (levels, steps per level, hidden channels)
on the same batches: the training batch of step s is genzoo's `train_batch(seed, s)`, dequantised
with uniform noise. Both minimise the batch's mean bits/dim with Adam on genzoo's learning-rate schedule
(`optim.learning_rate`, `optim.warmup_steps`, `optim.schedule`), the gradient clipped to
`optim.grad_clip_norm`; every `--eval_every` steps both report bits/dim over the whole test split
(one dequantisation draw).

The normflows model is its multi-scale Glow as its documentation builds it: per step ActNorm ->
LU 1x1 convolution -> affine coupling z_b = (x_b - t) * sigmoid(s + 2) whose conditioner is conv
3x3 -> ReLU -> conv 1x1 -> ReLU -> zero-initialised conv 3x3, and a learned per-position diagonal
Gaussian for the top latents and for every split-off half (not conditioned on the kept half);
`--peer_priors=standard` fixes those to N(0, I) instead. genzoo's `--config.KEY=VALUE` overrides apply to genzoo only; the peer's model stays as described.
"""

import json
import math
import os
import tempfile
import time

import numpy as np
from absl import app, flags
from ml_collections import config_flags

from _peer import peer_glow, peer_trainable_count, quiet_peer_warnings, trainable_count

from genzoo import data as datasets
from genzoo.runner.loop import train_and_evaluate
from genzoo.runner.session import Session, load_split
from genzoo.tasks.common import learning_rate_schedule

LIBRARIES = ("genzoo", "normflows")
_CONFIG = config_flags.DEFINE_config_file("config", "experiments/glow.py:mnist5k", "a Glow experiment")
_STEPS = flags.DEFINE_integer("steps", 3000, "training steps of each library")
_EVAL_EVERY = flags.DEFINE_integer("eval_every", 1000, "steps between test evaluations")
_ONLY = flags.DEFINE_enum("only", None, LIBRARIES, "train one library only")
_PEER_PRIORS = flags.DEFINE_enum("peer_priors", "learned", ["learned", "standard"],
                                 "normflows' base distributions: learned per position, or N(0, I)")
_JSON = flags.DEFINE_string("json", None, "also write the results here")


def recipe_config():
  """The experiment's config with the comparison's schedule: no parameter averaging (the peer
  has none), evaluation every `--eval_every` steps, no sample grids."""
  config = _CONFIG.value
  if config.model.name != "glow":
    raise app.UsageError(f"--config must describe a Glow (model.name=glow), got model.name={config.model.name}")
  config.train.steps = _STEPS.value
  config.train.eval_every = _EVAL_EVERY.value
  config.train.checkpoint_every = _STEPS.value
  config.train.sample_every = 0
  config.optim.ema_decay = 0.0
  return config


def bits_per_dim(log_likelihood: np.ndarray, num_dims: int, levels: int) -> float:
  """Mean bits/dim of discrete images from the log-density of their dequantised values y in
  [0, 1)^D: log P(x) >= log p(y) - D log(levels)."""
  return float(np.mean(-(log_likelihood - num_dims * math.log(levels)) / (num_dims * math.log(2))))


def run_genzoo(config) -> dict:
  with tempfile.TemporaryDirectory() as workdir:
    start = time.perf_counter()
    train_and_evaluate(config, workdir)
    seconds = time.perf_counter() - start
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      records = [json.loads(line) for line in f]
  curve = {r["step"]: r["eval/bpd"] for r in records if "eval/bpd" in r}
  parameters = trainable_count(Session.create(config).abstract_state()["params"])
  return dict(test_bpd=curve, seconds=seconds, parameters=parameters)


def run_normflows(config) -> dict:
  import torch

  quiet_peer_warnings()
  torch.manual_seed(config.seed)
  torch.set_num_threads(os.cpu_count())  # PyTorch's default on CPU; measured best on this machine
  train, test = load_split(config, "train"), load_split(config, "test")
  feature = train.spec.features[train.spec.target]
  height, width, channels = feature.shape
  model = peer_glow((channels, height, width), config.model.num_levels, config.model.num_steps,
                    config.model.hidden, learned_priors=_PEER_PRIORS.value == "learned")
  num_dims, levels = feature.size, feature.levels
  optim = config.optim
  if optim.name != "adam":
    raise app.UsageError(f"the peer trains with Adam only; the config has optim.name={optim.name}")
  optimizer = torch.optim.Adam(model.parameters(), lr=optim.learning_rate, betas=(optim.b1, optim.b2))
  rate = learning_rate_schedule(optim, config.train.steps)  # genzoo's, so both follow one schedule
  schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: float(rate(step)) / optim.learning_rate)

  def dequantised(images: np.ndarray, generator=None) -> "torch.Tensor":
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    return (x + torch.rand(x.shape, generator=generator)) / levels - 0.5  # centred as genzoo's Glow

  def evaluate() -> float:
    generator = torch.Generator().manual_seed(config.seed)
    model.eval()
    with torch.no_grad():
      log_likelihood = np.concatenate([
          model.log_prob(dequantised(test[test.spec.target][i:i + config.data.eval_batch_size], generator),
                         None).numpy()
          for i in range(0, test.num_examples, config.data.eval_batch_size)])
    model.train()
    return bits_per_dim(log_likelihood, num_dims, levels)

  curve, start = {}, time.perf_counter()
  for step in range(config.train.steps):
    batch = datasets.train_batch(train, step, config.data.batch_size, seed=config.seed)
    log_likelihood = model.log_prob(dequantised(batch[train.spec.target]), None)
    loss = -(log_likelihood.mean() - num_dims * math.log(levels)) / (num_dims * math.log(2))
    optimizer.zero_grad()
    loss.backward()
    if optim.grad_clip_norm:
      torch.nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip_norm)
    optimizer.step()
    schedule.step()
    done = step + 1
    if done % config.train.log_every == 0:
      print(f"normflows step {done}/{config.train.steps} | loss={loss.item():.3f}", flush=True)
    if done % config.train.eval_every == 0 or done == config.train.steps:
      curve[done] = evaluate()
      print(f"normflows step {done} test bpd {curve[done]:.4f}", flush=True)
  return dict(test_bpd=curve, seconds=time.perf_counter() - start,
              parameters=peer_trainable_count(model))


def table(results: dict) -> str:
  steps = sorted({step for result in results.values() for step in result["test_bpd"]})
  lines = ["library     parameters  seconds  " + "  ".join(f"bpd@{s:<6d}" for s in steps)]
  for name, result in results.items():
    cells = "  ".join(f"{result['test_bpd'].get(s, float('nan')):<10.4f}" for s in steps)
    lines.append(f"{name:<10s}  {result['parameters']:>10,d}  {result['seconds']:>7.0f}  {cells}")
  return "\n".join(lines)


def main(argv: list[str]) -> None:
  del argv
  config = recipe_config()
  runners = {"genzoo": run_genzoo, "normflows": run_normflows}
  results = {name: runners[name](config) for name in LIBRARIES if _ONLY.value in (None, name)}
  print(table(results))
  if _JSON.value:
    with open(_JSON.value, "w") as f:
      json.dump({"config": config.to_dict(), "results": results}, f, indent=2, default=str)


if __name__ == "__main__":
  app.run(main)
