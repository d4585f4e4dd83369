"""What a crash, a damaged file or a diverging run leaves: never a lost run, never a muddled log."""

import glob
import json
import os
import shutil

import chex
import jax
import pytest

from genzoo import runner
from genzoo.runner import workdir as run_files
from genzoo.runner.checkpoints import Checkpoints


@pytest.fixture
def finished(vae_smoke_run):
  return vae_smoke_run


def copy_run(finished, tmp_path) -> str:
  workdir = str(tmp_path / "run")
  shutil.copytree(finished[1], workdir)
  return workdir


def truncate_largest_file(step_dir):
  files = [f for f in glob.glob(f"{step_dir}/**/*", recursive=True) if os.path.isfile(f)]
  with open(max(files, key=os.path.getsize), "r+b") as f:
    f.truncate(16)


def remove_metadata(step_dir):
  for path in glob.glob(f"{step_dir}/**/*METADATA*", recursive=True):
    os.remove(path)


def empty_directory(step_dir):
  shutil.rmtree(step_dir)
  os.mkdir(step_dir)


DAMAGE = {"truncated file": truncate_largest_file, "missing metadata": remove_metadata, "emptied": empty_directory}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_eval_falls_back_to_the_newest_intact_checkpoint(damage, finished, tmp_path, run_cli, capsys, digest):
  workdir = copy_run(finished, tmp_path)
  DAMAGE[damage](f"{workdir}/checkpoints/6")
  before = digest(workdir)
  capsys.readouterr()
  run_cli("eval", f"--workdir={workdir}")
  out, err = capsys.readouterr()
  assert json.loads(out)["step"] == 3
  warnings = [line for line in err.splitlines() if line.strip()]
  assert len(warnings) == 1 and "warning: the checkpoint at step 6 is damaged" in warnings[0], err
  after = digest(workdir)
  assert after.pop("eval_3.json") and after == before  # eval only reads


def test_a_damaged_step_asked_for_by_name_is_an_error(finished, tmp_path, user_error):
  workdir = copy_run(finished, tmp_path)
  truncate_largest_file(f"{workdir}/checkpoints/6")
  message = user_error("sample", f"--workdir={workdir}", "--step=6")
  assert "the checkpoint at step 6 in" in message and "is damaged" in message and "another step: [3]" in message


def test_no_intact_checkpoint_at_all_is_an_error(finished, tmp_path, run_cli, capsys):
  workdir = copy_run(finished, tmp_path)
  for step in (3, 6):
    empty_directory(f"{workdir}/checkpoints/{step}")
  capsys.readouterr()
  with pytest.raises(SystemExit) as exit_info:
    run_cli("eval", f"--workdir={workdir}")
  lines = capsys.readouterr().err.strip().splitlines()
  assert exit_info.value.code == 2 and len(lines) == 3 and "Traceback" not in "".join(lines)
  assert ["step 6 is damaged" in lines[0], "step 3 is damaged" in lines[1]] == [True, True]
  assert lines[2].startswith("genzoo: error: ") and "has no intact checkpoint to read; train first" in lines[2]


def test_train_sets_a_damaged_checkpoint_aside_and_resumes_from_the_intact_one(finished, tmp_path, capsys, digest):
  config, original = finished
  workdir = copy_run(finished, tmp_path)
  truncate_largest_file(f"{workdir}/checkpoints/6")
  damaged = digest(f"{workdir}/checkpoints/6")
  capsys.readouterr()
  runner.train_and_evaluate(config, workdir)
  out, err = capsys.readouterr()
  assert "damaged" in err and "resuming from the checkpoint at step 3" in out
  assert digest(f"{workdir}/damaged_checkpoints/6") == damaged  # kept, not deleted
  assert Checkpoints(workdir).steps() == [3, 6]
  chex.assert_trees_all_equal(saved_params(workdir, 6), saved_params(original, 6))


def saved_params(workdir, step):
  return jax.device_get(runner.restore_session(workdir, step)[3]["params"])


def read_metrics(workdir):
  with open(f"{workdir}/metrics.jsonl") as f:
    return [json.loads(line) for line in f]


def test_resumed_run_logs_each_step_once(finished, tmp_path, interrupted_run):
  """A crash after step 4 (checkpoint at 3), a half-written last line, then a resumed run: every
  step has one record, and TensorBoard is told to purge what came after the checkpoint."""
  config, _ = finished
  workdir = str(tmp_path / "run")
  interrupted_run(config, workdir, step=5)
  with open(f"{workdir}/metrics.jsonl", "a") as f:
    f.write('{"step": 5, "train/lo')  # what a kill in the middle of a write leaves
  runner.train_and_evaluate(config, workdir)
  records = read_metrics(workdir)
  assert [r["step"] for r in records if "train/loss" in r] == [2, 4, 6]
  assert [r["step"] for r in records if "eval/elbo" in r] == [6]

  import tensorflow as tf  # after the runs: genzoo.data imports it in the order TFP needs

  starts = [event.step for path in sorted(glob.glob(f"{workdir}/tensorboard/events.*"))
            for event in tf.compat.v1.train.summary_iterator(path) if event.session_log.status == 1]
  assert starts == [4]  # SessionLog.START at the resumed step + 1: later events are purged


def test_non_finite_loss_stops_with_one_line(finished, tmp_path, user_error):
  config, _ = finished
  workdir = str(tmp_path / "run")
  message = user_error("train", f"--config={config_file()}", f"--config.data.data_dir={config.data.data_dir}",
                       "--config.optim.learning_rate=1e38", f"--workdir={workdir}")
  assert "step 1: the loss or gradients were not finite" in message and "(none yet) is untouched" in message
  assert Checkpoints(workdir).steps() == []


def test_skipped_steps_are_logged_and_reported(finished, tmp_path, capsys):
  config, _ = finished
  config = config.copy_and_resolve_references()
  config.optim.learning_rate = 1e38
  config.train.on_nonfinite = "skip"
  workdir = str(tmp_path / "run")
  capsys.readouterr()
  runner.train_and_evaluate(config, workdir)
  err = capsys.readouterr().err
  assert err.count("steps (up to step") == 3 and "2 of the last 2 steps (up to step 6) had a non-finite loss" in err
  assert [r["train/nonfinite"] for r in read_metrics(workdir) if "train/nonfinite" in r] == [1.0, 1.0, 1.0]
  chex.assert_tree_all_finite(saved_params(workdir, 6))


def test_eval_prints_its_results_before_a_failed_write(finished, tmp_path, run_cli, capsys, monkeypatch):
  workdir = copy_run(finished, tmp_path)
  real_write = run_files.write_json

  def read_only(path, value):
    if os.path.basename(path).startswith("eval_"):
      raise PermissionError(13, "Permission denied", path)
    real_write(path, value)

  monkeypatch.setattr(run_files, "write_json", read_only)
  capsys.readouterr()
  with pytest.raises(SystemExit) as exit_info:
    run_cli("eval", f"--workdir={workdir}")
  out, err = capsys.readouterr()
  assert exit_info.value.code == 2 and json.loads(out)["step"] == 6
  assert "cannot write into" in err and "Permission denied" in err and "the results are printed above" in err


def config_file():
  return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "experiments", "vae.py") + ":smoke"
