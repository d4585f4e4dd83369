"""`genzoo score` and `genzoo ood` on a finished run."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genzoo import runner
from genzoo.runner import anomaly
from genzoo.tasks import common


def test_scores_of_the_test_split_are_evaluations_per_example(vae_smoke_run):
  """Averaged over the test split, the per-example scores are the evaluation's bounds."""
  _, workdir = vae_smoke_run
  config, session, _, state = runner.restore_session(workdir, None)
  scores = anomaly.score_set(session, state, runner.load_split(config, "test"))
  evaluation = runner.Evaluator(session, runner.load_split(config, "test")).task_metrics(state)
  assert set(scores) == {"elbo_bpd", "iwae_bpd"}
  for name, values in scores.items():
    assert values.shape == (359,)
    assert float(np.mean(values)) == pytest.approx(evaluation[name], rel=1e-5)


def test_a_conditional_models_scores_marginalise_its_classes():
  x = jnp.asarray([0.5, -1.0])

  def log_likelihoods(labels):
    return {"log_p": x * (labels if labels is not None else 0)}

  marginal = common.marginal_over_classes(log_likelihoods, 3, 2)["log_p"]
  expected = jax.nn.logsumexp(jnp.stack([x * 0, x * 1, x * 2]), axis=0) - jnp.log(3.0)
  np.testing.assert_allclose(marginal, expected, rtol=1e-6)
  np.testing.assert_array_equal(common.marginal_over_classes(log_likelihoods, 0, 2)["log_p"], jnp.zeros(2))


def test_ood_writes_its_table_results_and_histograms(vae_smoke_run, run_cli, tmp_path, capsys):
  _, workdir = vae_smoke_run
  run_cli("ood", f"--workdir={workdir}", "--in=test", "--out=noise:40", "--out=test+invert", "--batch-sizes=1,4",
          f"--output-dir={tmp_path}")
  printed = capsys.readouterr().out
  assert "noise:40" in printed and "typicality_4" in printed
  results = json.loads((tmp_path / "ood_6.json").read_text())
  assert results["score"] == "iwae_bpd" and set(results["out"]) == {"noise:40", "test+invert"}
  detectors = results["out"]["noise:40"]
  assert set(detectors) == {"likelihood", "complexity_png", "complexity_jpeg2000", "typicality_1", "typicality_4"}
  assert detectors["likelihood"]["auroc"] > 0.9  # uniform noise is far less likely than digits, even at step 6
  assert detectors["typicality_4"]["out_batches"] == 10
  for name in ("ood_6_noise-40.png", "ood_6_test+invert.png"):
    assert os.path.getsize(tmp_path / name) > 10_000
  run_cli("score", f"--workdir={workdir}", "--data=noise:40", f"--output={tmp_path / 'noise.npz'}")
  with np.load(tmp_path / "noise.npz") as scores:
    assert scores["iwae_bpd"].shape == (40,)
