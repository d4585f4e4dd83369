"""Anomaly and out-of-distribution detection with a trained run: `genzoo score` and `genzoo ood`.

`score_set` gives the task's per-example anomaly scores (`example_scores`: bits/dim for the
likelihood families, the negated discriminator logit for GANs) of every image of a SET
(`data.outsets`). `ood` scores an in-distribution set and out-sets and reports, for every detector
and out-set, AUROC, AUPR and the false-positive rate at 95% true positives (`metrics.detection`):

  likelihood          the score itself (higher: less likely);
  likelihood_ratio    the score minus a background run's score of the same image (Ren et al. 2019,
                      "Likelihood ratios for out-of-distribution detection", eq. 5: the background
                      model, trained on perturbed inputs, captures the population-level statistics
                      that dominate the likelihood); with --background only;
  complexity_CODEC    the score minus the image's length under a lossless codec, both per dimension
                      (Serra et al. 2020, eq. 2; `metrics.complexity`); bits/dim scores only;
  typicality_M        the typicality test on batches of M (Nalisnick et al. 2019; `metrics.detection`).

The in-distribution set is cut in two halves by the run's seed: the first is the held-out data the
typicality test fits its entropy estimate and threshold on, the second is the in-distribution side
of every comparison.
"""

import json
import os
import re

import jax
import numpy as np

from genzoo import checks
from genzoo import data as datasets
from genzoo.data import outsets
from genzoo.errors import UserError
from genzoo.metrics import complexity, detection
from genzoo.runner import workdir as run_files
from genzoo.runner.commands import restore_session
from genzoo.runner.session import EVAL_STREAM, Session, chief_print, is_chief, load_options, stream

DEFAULT_BATCH_SIZES = (1, 2, 5, 10, 25)
BITS_PER_DIM_SUFFIX = "bpd"  # scores in bits/dim end so; only they take the complexity correction


def score_set(session: Session, state, data: datasets.Split) -> dict[str, np.ndarray]:
  """The task's per-example anomaly scores [N] of every example of `data`, in order. Batch i is
  drawn with the key evaluation uses for its batch i, so the scores of the test split are
  evaluation's per-example estimates."""
  if session.jit_example_scores is None:
    raise UserError(f"the {session.config.task!r} family has no per-example scores")
  rng = stream(session.config, EVAL_STREAM)
  batches = datasets.eval_batches(data, session.config.data.eval_batch_size, process_index=jax.process_index(),
                                  process_count=jax.process_count())
  chunks = [jax.device_get(session.jit_example_scores(state, session.parallel.global_batch(batch),
                                                      jax.random.fold_in(rng, index)))
            for index, batch in enumerate(batches)]
  return {name: np.concatenate([chunk[name] for chunk in chunks])[:data.num_examples] for name in chunks[0]}


def load_set(config, text: str) -> datasets.Split:
  return outsets.load_set(text, config.data.name, datasets.LoadOptions(**load_options(config)))


def score(workdir: str, set_text: str, output: str | None, step: int | None = None,
          overrides: dict | None = None) -> str:
  """Writes the per-example scores of SET `set_text` under the run's model to an .npz (one array
  [N] per score, and "image_index"), prints their means, and returns its path."""
  if output is not None:
    run_files.check_output_path(output)
  config, session, step, state = restore_session(workdir, step, overrides)
  data = load_set(config, set_text)
  scores = score_set(session, state, data)
  path = output or os.path.join(workdir, f"scores_{step}_{file_label(set_text)}.npz")
  run_files.check_output_path(path)
  chief_print(json.dumps({"set": set_text, "step": step, "num_examples": data.num_examples,
                          **{f"mean_{name}": float(np.mean(values)) for name, values in scores.items()}}, indent=2))
  if is_chief():
    with run_files.writing_into(os.path.dirname(os.path.abspath(path))):
      np.savez(path, **scores)
  return path


def file_label(set_text: str) -> str:
  """A SET as a piece of a file name: `digits:test+invert` -> `digits-test+invert`."""
  return re.sub(r"[^A-Za-z0-9+._-]+", "-", os.path.basename(set_text)).strip("-") or "set"


def ood(workdir: str, in_set: str, out_sets: list[str], output_dir: str | None = None, step: int | None = None,
        background: str | None = None, batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
        score_name: str | None = None, overrides: dict | None = None) -> dict:
  """Out-of-distribution detection of `out_sets` against `in_set` with the run's model (see the
  module docstring): the table printed, `ood_<step>.json` and one histogram PNG per out-set
  written into `output_dir` (default: the workdir); returns the results."""
  if not out_sets:
    raise UserError("genzoo ood needs at least one --out set")
  for size in batch_sizes:
    checks.check_value("--batch-sizes", size, checks.at_least(1))
  output_dir = output_dir or workdir
  if not os.path.isdir(output_dir):
    raise UserError(f"cannot write into {output_dir}: the folder does not exist; create it first")
  config, session, step, state = restore_session(workdir, step, overrides)
  scorers = [(session, state)]
  if background is not None:
    scorers.append(background_scorer(background, session))
  sets = {text: load_set(config, text) for text in [in_set, *out_sets]}
  scores = {text: [score_set(scorer, scorer_state, data) for scorer, scorer_state in scorers]
            for text, data in sets.items()}
  name = chosen_score(score_name, scores[in_set][0])
  size = int(np.prod(session.spec.x.shape))
  detectors = {text: detector_scores(name, per_model, sets[text][session.spec.target], size)
               for text, per_model in scores.items()}
  reference, inside = halves(len(sets[in_set][session.spec.target]), config.seed)
  results = {"step": step, "score": name, "in": in_set, "background": background, "out": {}}
  for text in out_sets:
    results["out"][text] = {
        **{detector: detection.separation(values[inside], detectors[text][detector])
           for detector, values in detectors[in_set].items()},
        **{f"typicality_{batch}": detection.typicality_test(
            detectors[in_set]["likelihood"][reference], detectors[in_set]["likelihood"][inside],
            detectors[text]["likelihood"], batch, seed=config.seed) for batch in batch_sizes}}
  chief_print(table(results))
  if is_chief():
    with run_files.writing_into(output_dir, after="; the results are printed above"):
      run_files.write_json(os.path.join(output_dir, f"ood_{step}.json"), results)
      for text in out_sets:
        histograms(os.path.join(output_dir, f"ood_{step}_{file_label(text)}.png"), in_set, text,
                   {detector: values[inside] for detector, values in detectors[in_set].items()}, detectors[text],
                   results["out"][text])
  return results


def background_scorer(workdir: str, session: Session):
  """The session and state of the background run, refused unless it models the same data."""
  config, background, _, state = restore_session(workdir, None)
  if background.spec.x != session.spec.x:
    raise UserError(f"the background run in {workdir} models {background.spec.x.shape} images of "
                    f"{background.spec.x.levels} levels, this run {session.spec.x.shape} of {session.spec.x.levels}; "
                    "a likelihood ratio needs both models on the same data")
  return background, state


def chosen_score(name: str | None, scores: dict[str, np.ndarray]) -> str:
  """`--score`, by default the task's last (its tightest estimate)."""
  if name is None:
    return list(scores)[-1]
  if name not in scores:
    raise UserError(f"--score {name}: this run's scores are {list(scores)}")
  return name


def detector_scores(name: str, per_model: list[dict[str, np.ndarray]], images: np.ndarray,
                    size: int) -> dict[str, np.ndarray]:
  """Every detector's per-example score (higher: more anomalous) from the score `name` of the
  run (and of the background run, if any) and the images."""
  likelihood = per_model[0][name]
  detectors = {"likelihood": likelihood}
  if len(per_model) > 1:
    detectors["likelihood_ratio"] = likelihood - per_model[1][name]
  if name.endswith(BITS_PER_DIM_SUFFIX):
    for codec in complexity.CODECS:
      detectors[f"complexity_{codec}"] = likelihood - complexity.compressed_bits(images, codec) / size
  return detectors


def halves(num: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """Two disjoint random halves of range(num), keyed by the seed: (reference, evaluation)."""
  if num < 2:
    raise UserError(f"the in-distribution set has {num} example; it needs at least 2, half of them held out")
  order = np.random.default_rng([seed, num]).permutation(num)
  return np.sort(order[:num // 2]), np.sort(order[num // 2:])


def table(results: dict) -> str:
  """The results as a text table, one row per out-set and detector."""
  lines = [f"out-of-distribution detection, score {results['score']}, in: {results['in']} (step {results['step']})",
           f"{'out-set':28} {'detector':26} {'AUROC':>7} {'AUPR-in':>8} {'AUPR-out':>9} {'FPR95':>7}"]
  for text, detectors in results["out"].items():
    for detector, values in detectors.items():
      lines.append(f"{text[:28]:28} {detector:26} {values['auroc']:7.3f} {values['aupr_in']:8.3f} "
                   f"{values['aupr_out']:9.3f} {values['fpr95']:7.3f}")
  return "\n".join(lines)


def histograms(path: str, in_set: str, out_set: str, inside: dict[str, np.ndarray], outside: dict[str, np.ndarray],
               results: dict) -> None:
  """One panel per per-example detector: the in and out score distributions on shared bins."""
  import matplotlib  # pylint: disable=g-import-not-at-top  (plots only here)

  matplotlib.use("Agg")
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top

  figure, axes = pyplot.subplots(1, len(inside), figsize=(4.2 * len(inside), 3.4), squeeze=False)
  for axis, (detector, values) in zip(axes[0], inside.items()):
    bins = np.histogram_bin_edges(np.concatenate([values, outside[detector]]), bins=50)
    axis.hist(values, bins=bins, density=True, alpha=0.6, label=f"in: {in_set}")
    axis.hist(outside[detector], bins=bins, density=True, alpha=0.6, label=f"out: {out_set}")
    axis.set_title(f"{detector}  (AUROC {results[detector]['auroc']:.3f})", fontsize=9)
    axis.set_xlabel("score (higher: more anomalous)", fontsize=8)
  axes[0][0].legend(fontsize=7)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  pyplot.close(figure)
