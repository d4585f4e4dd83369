"""The one-class protocol on mnist5k: a model per digit, the other nine digits as anomalies.

For each family and digit d, trains `experiments/anomaly.py:<family>_one_class` with
`data.classes=(d,)` into WORKDIR/<family>_<d> (a finished run is reused, an interrupted one
resumed), scores the test digits of class d (in-distribution) and of the other classes (the
anomalies) with the run's tightest per-example score (bits/dim), and prints the AUROC per digit and
the mean, with AUPR-out and FPR at 95% TPR, as a table and as JSON.

  python benchmarks/one_class.py --workdir runs/one_class [--families vae,glow] [--digits 0,1,...]
"""

import argparse
import json
import os
import statistics

import numpy as np

from genzoo import runner
from genzoo.metrics import detection
from genzoo.runner import anomaly

from _measure import load_experiment

DIGITS = tuple(range(10))


def trained_run(family: str, digit: int, workdir: str) -> str:
  """The run of `family` on `digit`; the runner resumes an interrupted one and leaves a finished
  one as it is."""
  config = load_experiment("anomaly", f"{family}_one_class")
  config.data.classes = (digit,)
  runner.train_and_evaluate(config, workdir)
  return workdir


def one_class_scores(workdir: str, digit: int) -> dict:
  """Separation of the other digits from `digit` by the run's likelihood score."""
  config, session, _, state = runner.restore_session(workdir, None)
  others = ",".join(str(other) for other in DIGITS if other != digit)
  inside = anomaly.score_set(session, state, anomaly.load_set(config, "test"))
  outside = anomaly.score_set(session, state, anomaly.load_set(config, f"mnist5k:test@{others}"))
  name = anomaly.chosen_score(None, inside)
  return {"score": name, "in_examples": len(inside[name]), "out_examples": len(outside[name]),
          "mean_in": float(np.mean(inside[name])), "mean_out": float(np.mean(outside[name])),
          **detection.separation(inside[name], outside[name])}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True, help="folder of the per-digit runs")
  parser.add_argument("--families", default="vae,glow")
  parser.add_argument("--digits", default=",".join(map(str, DIGITS)))
  args = parser.parse_args()
  families, digits = args.families.split(","), [int(digit) for digit in args.digits.split(",")]
  results = {family: {digit: one_class_scores(trained_run(family, digit, os.path.join(args.workdir, f"{family}_{digit}")),
                                              digit)
                      for digit in digits} for family in families}
  print(f"{'digit':>6}" + "".join(f" {family + ' AUROC':>11} {'AUPR-out':>9} {'FPR95':>6}" for family in families))
  for digit in digits:
    print(f"{digit:>6}" + "".join(f" {results[f][digit]['auroc']:11.3f} {results[f][digit]['aupr_out']:9.3f} "
                                  f"{results[f][digit]['fpr95']:6.3f}" for f in families))
  print(f"{'mean':>6}" + "".join(f" {statistics.mean(r['auroc'] for r in results[f].values()):11.3f} "
                                 f"{statistics.mean(r['aupr_out'] for r in results[f].values()):9.3f} "
                                 f"{statistics.mean(r['fpr95'] for r in results[f].values()):6.3f}" for f in families))
  print(json.dumps(results, indent=2))


if __name__ == "__main__":
  main()
