"""The bad-input battery: every user error through the real `genzoo` command (in process).

Each case asserts exit status 2, one line on stderr naming what was wrong (no traceback), and that
the workdir is byte-identical afterwards (or, for `train` into a fresh workdir, still absent). To
add a case, add a `Case` to TRAIN_CASES or RUN_CASES: in its arguments `{smoke}` (the VAE smoke
config), `{smoke_file}`, the smoke configs `{glow}`, `{flowpp}`, `{realnvp}`, `{toy2d}`, `{sngan}`
`{stylegan2}` and `{waveglow}`, `{data}` (the TFDS data dir), `{run}` (a finished VAE smoke run), `{fresh}` (a
workdir that does not exist) and `{tmp}` (a folder with broken files and a float32 array
wrong.npy) are filled in. Damaged checkpoints and crashes are in test_recovery.py.
"""

import dataclasses
import json
import os
import re
import shutil

import numpy as np
import pytest

from genzoo.errors import UserError

EXPERIMENTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "experiments")


@dataclasses.dataclass(frozen=True)
class Case:
  id: str
  args: tuple[str, ...]
  message: str  # a regular expression the one-line message must contain


def train(*extra, config="{smoke}"):
  return ("train", f"--config={config}", "--config.data.data_dir={data}", "--workdir={fresh}", *extra)


TRAIN_CASES = [
    Case("unknown key", train("--config.train.stepz=5"),
         r"unknown config key 'stepz' in --config.train.stepz=5 \(did you mean \"steps\"\?\)"),
    Case("unknown section", train("--config.trian.steps=5"), r"unknown config key 'trian' in --config.trian.steps=5"),
    Case("missing config file", train(config="{tmp}/nope.py"), r"cannot load the config file .*nope.py: .*No such file"),
    Case("unknown variant", train(config="{smoke_file}:mnist6k"),
         r"--config=.*vae.py:mnist6k: unknown variant 'mnist6k' of experiments/vae.py; known: \['mnist5k'"),
    Case("config syntax error", train(config="{tmp}/broken.py"), r"config file .*broken.py has a syntax error at line 1"),
    Case("config file that raises", train(config="{tmp}/raising.py"),
         r"the config file .*raising.py failed: KeyError: 'boom' \(--debug shows the traceback\)"),
    Case("override with no close key", train("--config.train.zzz=5"), r"unknown config key 'zzz' in --config.train.zzz=5$"),
    Case("config value of the wrong type", train("--config.train.steps=abc"),
         r"flag --config.train.steps=abc: invalid literal for int\(\)"),
    Case("unknown flag", train("--nosuchflag=1"), r"Unknown command line flag 'nosuchflag'"),
    Case("zero batch", train("--config.data.batch_size=0"),
         r"data.batch_size=0 is not accepted: it must be a whole number >= 1"),
    Case("negative batch", train("--config.data.batch_size=-4"), r"data.batch_size=-4 is not accepted"),
    Case("batch larger than the split", train("--config.data.batch_size=1440"),
         r"data.batch_size=1440 is larger than the 1438 training examples of digits; use at most 1438"),
    Case("zero eval batch", train("--config.data.eval_batch_size=0"), r"data.eval_batch_size=0 is not accepted"),
    Case("unknown dataset", train("--config.data.name=mnist6k"), r"unknown dataset 'mnist6k'; known datasets: digits"),
    Case("unknown optimiser", train("--config.optim.name=sgdx"),
         r"optim.name='sgdx' is not accepted: it must be one of 'adam', 'adamw'"),
    Case("unknown schedule", train("--config.optim.schedule=step"), r"optim.schedule='step' is not accepted"),
    Case("unknown likelihood", train("--config.model.likelihood=poisson"),
         r"model.likelihood='poisson' is not accepted: it must be one of 'bernoulli', 'logistic', 'gaussian'"),
    Case("unknown binarisation", train("--config.data.binarize=always"),
         r"data.binarize='always' is not accepted: it must be one of 'none', 'static', 'dynamic'"),
    Case("n_bits out of range", train("--config.data.n_bits=9"),
         r"data.n_bits=9 is not accepted: it must be a whole number from 1 to 8, or unset"),
    Case("zero steps", train("--config.train.steps=0"), r"train.steps=0 is not accepted"),
    Case("zero learning rate", train("--config.optim.learning_rate=0"),
         r"optim.learning_rate=0.0 is not accepted: it must be a finite number > 0"),
    Case("negative learning rate", train("--config.optim.learning_rate=-0.001"), r"optim.learning_rate=-0.001"),
    Case("NaN learning rate", train("--config.optim.learning_rate=nan"), r"optim.learning_rate=nan"),
    Case("infinite learning rate", train("--config.optim.learning_rate=inf"), r"optim.learning_rate=inf"),
    Case("Adam beta of 1", train("--config.optim.b1=1.0"), r"optim.b1=1.0 is not accepted: it must be a number >= 0 and < 1"),
    Case("negative KL weight", train("--config.loss.beta=-1.0"), r"loss.beta=-1.0 is not accepted"),
    Case("unknown non-finite policy", train("--config.train.on_nonfinite=ignore"),
         r"train.on_nonfinite='ignore' is not accepted: it must be one of 'stop', 'skip'"),
    Case("unknown task", train("--config.task=diffusion"), r"unknown task 'diffusion'; known: \['flow', 'gan', 'vae'\]"),
    Case("widths that are not numbers", train("--config.model.hidden=abc"), r"model.hidden=\('abc',\) is not accepted"),
    Case("unknown sample metric", train("--config.eval.sample_metrics=fid,is"), r"unknown sample metrics \['is'\]"),
    Case("unknown extractor", train("--config.eval.feature_extractor=clip"), r"eval.feature_extractor='clip'"),
    Case("image size the encoder cannot take",
         train("--config.model.architecture=conv", "--config.model.channels=(8,16,32,64)"),
         r"image shape \(8, 8, 1\) cannot be taken by the convolutional encoder with 4 stride-2 stages"),
    Case("flow deeper than the image", train("--config.model.num_levels=4", config="{glow}"),
         r"image shape \(8, 8, 1\) cannot pass the 4 squeezes of this flow's levels"),
    Case("an image family on vector data", train("--config.data.name=two_moons"),
         r"the vae family models image data, but this dataset's 'vector' is vector data of shape \(2,\)"),
    Case("an image flow on vector data", train("--config.data.name=two_moons", config="{glow}"),
         r"the 'glow' flow model models image data, but this dataset's 'vector' is vector data"),
    Case("unknown compute dtype", train("--config.model.compute_dtype=float16", config="{glow}"),
         r"model.compute_dtype='float16' is not accepted: it must be one of 'float32', 'bfloat16'"),
    Case("unknown GAN compute dtype", train("--config.model.compute_dtype=float16", config="{sngan}"),
         r"model.compute_dtype='float16' is not accepted: it must be one of 'float32', 'bfloat16'"),
    Case("streaming a dataset prepared as TFRecords", train("--config.data.stream=True"),
         r"data.stream=True reads digits by index from its array_record files, but it is prepared in .* as tfrecord "
         r"only.*--file_format=array_record"),
    Case("streaming with binarisation", train("--config.data.stream=True", "--config.data.binarize=static"),
         r"data.stream=True reads digits batch by batch, which data.binarize does not support yet"),
    Case("streaming vector data", train("--config.data.stream=True", config="{toy2d}"),
         r"two_moons is a dataset of unlabelled 2-D vectors; the options data.stream=True do not apply"),
    Case("negative batch workers", train("--config.data.workers=-1"),
         r"data.workers=-1 is not accepted: it must be a whole number >= 0"),
    Case("no batches prefetched", train("--config.data.prefetch=0"),
         r"data.prefetch=0 is not accepted: it must be a whole number >= 1"),
    Case("a negative number of CPU devices", train("--config.train.cpu_devices=-1"),
         r"train.cpu_devices=-1 is not accepted: it must be a whole number >= 0"),
    Case("unknown dequantiser", train("--config.dequantizer.name=gaussian", config="{glow}"),
         r"dequantizer.name='gaussian' is not accepted: it must be one of 'uniform', 'variational'"),
    Case("a setting the uniform dequantiser does not have", train("--config.dequantizer.name=uniform", config="{flowpp}"),
         r"dequantizer.attention is not a setting of dequantizer 'uniform'; its settings: \[\]"),
    Case("learned dequantisation of continuous data", train("--config.dequantizer.name=variational", config="{toy2d}"),
         r"dequantizer.name='variational' dequantises discrete data, but 'vector' is continuous"),
    Case("parameter average that never moves", train("--config.optim.ema_decay=1.0", config="{glow}"),
         r"optim.ema_decay=1.0 is not accepted: it must be a number >= 0 and < 1"),
    Case("attention heads that do not divide the filters", train("--config.model.heads=3", config="{flowpp}"),
         r"filters=8 must be divisible by heads=3"),
    Case("another model's settings", train("--config.model.name=flowpp", config="{glow}"),
         r"model.condition_couplings is not a setting of the FlowPlusPlus model"),
    Case("unknown augmentation", train("--config.loss.augment=rotate", config="{sngan}"),
         r"loss.augment='rotate' is not accepted: it must be one of 'none', 'diffaugment', 'ada'"),
    Case("unknown ADA pipeline", train("--config.loss.augment=ada", "--config.loss.ada_pipeline=bgcx", config="{sngan}"),
         r"loss.ada_pipeline='bgcx' is not accepted: it must be one of 'b', 'bg', 'bgc'"),
    Case("zero regulariser interval", train("--config.loss.r1_interval=0", config="{sngan}"),
         r"loss.r1_interval=0 is not accepted: it must be a whole number >= 1"),
    Case("path lengths of a generator without styles", train("--config.loss.pl_weight=2.0", config="{sngan}"),
         r"loss.pl_weight=2.0 regularises the path lengths of a style-based generator; model.name='dcgan' has no "
         r"style space"),
    Case("classes the data does not have", train("--config.model.num_classes=7", config="{stylegan2}"),
         r"model.num_classes=7 asks for a model conditioned on 7 classes, but the data has 10 classes"),
    Case("classes in a flow that cannot take them", train("--config.model.num_classes=10", config="{realnvp}"),
         r"model.num_classes=10 asks for a class-conditional flow, but the 'realnvp' model is unconditional; "
         r"class-conditional flows: \['glow'\]"),
    Case("class-prediction loss of an unconditional flow", train("--config.loss.class_weight=0.01", config="{glow}"),
         r"loss.class_weight=0.01 weights a class-prediction loss, which needs a class-conditional model"),
    Case("label in the couplings of an unconditional Glow", train("--config.model.condition_couplings=True",
                                                                  config="{glow}"),
         r"model.condition_couplings hands the label to the couplings, which needs a class-conditional Glow"),
    Case("negative sample temperature", train("--config.eval.sample_temperature=-0.5"),
         r"eval.sample_temperature=-0.5 is not accepted: it must be a finite number >= 0"),
    Case("StyleGAN2 on images of another side", train("--config.data.pad=1", config="{stylegan2}"),
         r"StyleGAN2 needs square images whose side is a power of 2 \(at least 4\), got 10x10"),
    Case("image options on vector data", train("--config.data.n_bits=5", config="{toy2d}"),
         r"two_moons is a dataset of unlabelled 2-D vectors; the options data.n_bits=5 do not apply"),
    Case("classes the data does not have, for a one-class run", train("--config.data.classes=(3,12)"),
         r"data.classes=\[3, 12\]: digits has classes 0 to 9, not \[12\]"),
    Case("audio options on images", train("--config.data.segment_length=4096"),
         r"digits is .*; the options data.segment_length=4096 do not apply"),
    Case("image options on audio", train("--config.data.n_bits=5", config="{waveglow}"),
         r"speech is a dataset of speech at 22050 Hz; the options data.n_bits=5 do not apply"),
    Case("log-mel distance of an image model", train("--config.eval.sample_metrics=log_mel_distance"),
         r"log_mel_distance compares re-syntheses of test examples with them, and this model does not generate from "
         r"given examples"),
    Case("FID of audio", train("--config.eval.sample_metrics=fid", config="{waveglow}"),
         r"fid score generated images, and this model generates audio data"),
    Case("zero training sigma", train("--config.model.sigma=0.0", config="{waveglow}"),
         r"model.sigma=0.0 is not accepted: it must be a finite number > 0"),
    Case("mutation of continuous data", train("--config.data.mutation_rate=0.1", config="{toy2d}"),
         r"data.mutation_rate=0.1 replaces entries by random levels, which needs discrete data"),
    Case("mutation rate of 1", train("--config.data.mutation_rate=1.0"),
         r"data.mutation_rate=1.0 is not accepted: it must be a number >= 0 and < 1"),
    Case("workdir inside a file", ("train", "--config={smoke}", "--config.data.data_dir={data}", "--workdir={tmp}/afile/run"),
         r"cannot write into .*afile/run: Not a directory"),
    Case("unknown command", ("fit", "--workdir={fresh}"), r"expected one command out of \['train', 'eval'"),
    Case("no workdir", ("train", "--config={smoke}"), r"--workdir is required"),
    Case("train without a config", ("train", "--workdir={fresh}"), r"train needs --config"),
    Case("train-features without a dataset", ("train-features",), r"train-features needs --dataset"),
    Case("train-features of an unknown dataset", ("train-features", "--dataset=mnist6k", "--features-dir={tmp}/f"),
         r"unknown dataset 'mnist6k'"),
]

RUN_CASES = [
    Case("eval of a missing workdir", ("eval", "--workdir={fresh}"), r"workdir .*fresh does not exist"),
    Case("eval of a folder without a run", ("eval", "--workdir={tmp}"), r"holds no genzoo run \(config.json is missing\)"),
    Case("eval of a missing step", ("eval", "--workdir={run}", "--step=5"), r"no checkpoint at step 5; available steps: \[3, 6\]"),
    Case("zero IWAE samples", ("eval", "--workdir={run}", "--iwae-k=0"), r"--iwae-k=0 is not accepted: it must be a whole number >= 1"),
    Case("zero IWAE samples as an override", ("eval", "--workdir={run}", "--config.eval.iwae_k=0"),
         r"eval.iwae_k=0 is not accepted: it must be a whole number >= 1"),
    Case("eval override of a key the run lacks", ("eval", "--workdir={run}", "--config.eval.iwae_kk=5"),
         r"this run's config has no key eval.iwae_kk \(it is a 'vae' run\); its eval keys: \["),
    Case("eval override outside eval", ("eval", "--workdir={run}", "--config.model.latent_dim=5"),
         r"Unknown command line flag 'config.model.latent_dim'; genzoo eval takes --config.eval.KEY=VALUE overrides"),
    Case("unknown metric", ("eval", "--workdir={run}", "--metrics=fid,is"), r"unknown sample metrics \['is'\]; known: \['fid', 'kid', 'modes', 'class_consistency', 'intra_fid', 'log_mel_distance'\]"),
    Case("unknown extractor for eval", ("eval", "--workdir={run}", "--metrics=fid", "--extractor=clip"),
         r"eval.feature_extractor='clip' is not accepted: it must be one of 'classifier', 'inception'"),
    Case("Inception without weights", ("eval", "--workdir={run}", "--metrics=fid", "--extractor=inception"),
         r"needs the FID Inception-v3 weights, and no weights file was given"),
    Case("missing Inception weights", ("eval", "--workdir={run}", "--metrics=fid", "--extractor=inception",
                                       "--inception-weights={tmp}/none.npz"), r"and there is no file .*none.npz"),
    Case("Inception weights that are not an archive", ("eval", "--workdir={run}", "--metrics=fid", "--extractor=inception",
                                                       "--inception-weights={tmp}/afile"),
         r"afile is not a readable .npz archive"),
    Case("Inception weights of another network", ("eval", "--workdir={run}", "--metrics=fid", "--extractor=inception",
                                                  "--inception-weights={tmp}/other.npz"),
         r"the Inception weights do not match the FID Inception-v3: missing Conv2d_1a_3x3"),
    Case("zero samples", ("sample", "--workdir={run}", "--num=0"), r"--num=0 is not accepted: it must be a whole number >= 1"),
    Case("negative temperature", ("sample", "--workdir={run}", "--temperature=-1"),
         r"--temperature=-1.0 is not accepted: it must be a finite number >= 0"),
    Case("NaN temperature", ("sample", "--workdir={run}", "--temperature=nan"), r"--temperature=nan is not accepted"),
    Case("output in a missing folder", ("sample", "--workdir={run}", "--output={tmp}/missing/grid.png"),
         r"cannot write .*grid.png: the folder .*missing does not exist; create it first"),
    Case("sigma of a family without one", ("sample", "--workdir={run}", "--sigma=0.6"),
         r"--sigma sets a flow's base standard deviation; this run's family has none \(use --temperature\)"),
    Case("sigma and temperature", ("sample", "--workdir={run}", "--sigma=0.6", "--temperature=0.5"),
         r"give --sigma or --temperature, not both"),
    Case("negative sigma", ("sample", "--workdir={run}", "--sigma=-1"),
         r"--sigma=-1.0 is not accepted: it must be a finite number >= 0"),
    Case("vocode without an input", ("vocode", "--workdir={run}", "--output={tmp}/out.wav"),
         r"vocode needs --input SPEECH.wav \(mono 16-bit PCM at the run's sample rate\) and --output OUT.wav"),
    Case("vocode into a file that is not WAV", ("vocode", "--workdir={run}", "--input={tmp}/in.wav",
                                                "--output={tmp}/out.mp3"), r"--output '.*out.mp3' must name a .wav file"),
    Case("vocode with a run that is no vocoder", ("vocode", "--workdir={run}", "--input={tmp}/in.wav",
                                                  "--output={tmp}/out.wav"),
         r"does not generate from features of a given waveform; vocoding needs a run of a vocoder"),
    Case("truncation of a model without it", ("sample", "--workdir={run}", "--truncation=0.7"),
         r"--truncation sets the truncation trick of a generator that has one \(StyleGAN2's psi, BigGAN's threshold\); this run's model \('vae' family"),
    Case("negative truncation", ("eval", "--workdir={run}", "--truncation=-1"),
         r"--truncation=-1.0 is not accepted: it must be a finite number >= 0"),
    Case("class of an unconditional model", ("sample", "--workdir={run}", "--class=3"),
         r"--class 3 asks for samples of a class, but this run's model is unconditional"),
    Case("class metrics of an unconditional model", ("eval", "--workdir={run}", "--metrics=fid,class_consistency"),
         r"class_consistency score samples generated for requested classes, but this model is unconditional"),
    Case("class metrics in training an unconditional model", train("--config.eval.sample_metrics=intra_fid"),
         r"intra_fid score samples generated for requested classes, but this model is unconditional"),
    Case("classes that are not the data's, in a flow", train("--config.model.num_classes=7", config="{glow}"),
         r"model.num_classes=7 asks for a model conditioned on 7 classes, but the data has 10 classes"),
    Case("score without a set", ("score", "--workdir={run}"), r"score needs --data SET, e.g. --data test"),
    Case("score of an unknown set", ("score", "--workdir={run}", "--data=validation"),
         r"unknown set 'validation'; a set is test, train, DATASET:SPLIT, constant\[:N\], noise\[:N\]"),
    Case("score of an unknown transform", ("score", "--workdir={run}", "--data=test+rotate"),
         r"unknown transforms \['rotate'\]"),
    Case("score of an array of another shape", ("score", "--workdir={run}", "--data={tmp}/wrong.npy"),
         r"wrong.npy holds a float32 array of shape \[2, 28, 28\]; expected a uint8 array \[N, 8, 8, 1\]"),
    Case("score override outside eval", ("score", "--workdir={run}", "--data=test", "--config.model.latent_dim=5"),
         r"Unknown command line flag 'config.model.latent_dim'; genzoo score takes --config.eval.KEY=VALUE overrides"),
    Case("ood without an in-set", ("ood", "--workdir={run}", "--out=noise"), r"ood needs --in SET"),
    Case("ood without an out-set", ("ood", "--workdir={run}", "--in=test"), r"genzoo ood needs at least one --out set"),
    Case("ood with a score the run does not have", ("ood", "--workdir={run}", "--in=test", "--out=noise:20",
                                                    "--score=bpd"),
         r"--score bpd: this run's scores are \['elbo_bpd', 'iwae_bpd'\]"),
    Case("ood with a zero typicality batch", ("ood", "--workdir={run}", "--in=test", "--out=noise", "--batch-sizes=1,0"),
         r"--batch-sizes=0 is not accepted: it must be a whole number >= 1"),
    Case("ood with batch sizes that are not numbers", ("ood", "--workdir={run}", "--in=test", "--out=noise",
                                                       "--batch-sizes=one"),
         r"--batch-sizes takes comma-separated whole numbers, got 'one'"),
    Case("ood into a missing folder", ("ood", "--workdir={run}", "--in=test", "--out=noise", "--output-dir={tmp}/no"),
         r"cannot write into .*no: the folder does not exist; create it first"),
    Case("ood against a background that is not a run", ("ood", "--workdir={run}", "--in=test", "--out=noise:20",
                                                         "--background={tmp}"),
         r"holds no genzoo run \(config.json is missing\)"),
    Case("style mixing of a model without styles", ("style-mix", "--workdir={run}"),
         r"the 'vae' family has no styles to mix"),
    Case("zero style sources", ("style-mix", "--workdir={run}", "--sources=0"),
         r"--sources=0 is not accepted: it must be a whole number >= 1"),
    Case("zero pairs", ("interpolate", "--workdir={run}", "--num-pairs=0"), r"--num-pairs=0 is not accepted"),
    Case("zero interpolation steps", ("interpolate", "--workdir={run}", "--num-steps=0"),
         r"--num-steps=0 is not accepted: it must be a whole number >= 2"),
    Case("more pairs than test examples", ("interpolate", "--workdir={run}", "--num-pairs=1000"),
         r"--num-pairs=1000 needs 2000 test examples; the split has 359, so use at most 179"),
    Case("resuming with another config", ("train", "--config={smoke}", "--config.data.data_dir={data}",
                                          "--config.model.latent_dim=5", "--workdir={run}"),
         r"holds a run of a different config \(model.latent_dim: 4 -> 5\); use another --workdir, or pass --overwrite"),
    Case("resuming with a bad value", ("train", "--config={smoke}", "--config.data.data_dir={data}",
                                       "--config.train.steps=-8", "--workdir={run}"), r"train.steps=-8 is not accepted"),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory, vae_smoke_run):
  """The paths the cases name: the finished VAE smoke run, its data dir, broken files."""
  config, run = vae_smoke_run
  root = tmp_path_factory.mktemp("battery")
  (root / "broken.py").write_text("def get_config(:\n  pass\n")
  (root / "raising.py").write_text("def get_config():\n  raise KeyError('boom')\n")
  (root / "afile").write_text("not an archive\n")
  np.savez(root / "other.npz", weight=np.zeros(3))
  np.save(root / "wrong.npy", np.zeros((2, 28, 28), np.float32))
  smoke_file = os.path.join(EXPERIMENTS, "vae.py")
  return {"smoke": f"{smoke_file}:smoke", "smoke_file": smoke_file, "glow": os.path.join(EXPERIMENTS, "glow.py") + ":smoke",
          "flowpp": os.path.join(EXPERIMENTS, "flowpp.py") + ":smoke",
          "realnvp": os.path.join(EXPERIMENTS, "realnvp.py") + ":smoke",
          "toy2d": os.path.join(EXPERIMENTS, "toy2d.py") + ":smoke",
          "sngan": os.path.join(EXPERIMENTS, "sngan.py") + ":smoke",
          "stylegan2": os.path.join(EXPERIMENTS, "stylegan2.py") + ":smoke",
          "waveglow": os.path.join(EXPERIMENTS, "waveglow.py") + ":smoke",
          "data": config.data.data_dir, "run": run, "fresh": str(root / "fresh"), "tmp": str(root)}


@pytest.mark.parametrize("case", TRAIN_CASES + RUN_CASES, ids=lambda case: case.id)
def test_bad_input_is_one_line_and_changes_nothing(case, places, user_error, digest):
  before = digest(places["run"])
  message = user_error(*[arg.format(**places) for arg in case.args])
  assert digest(places["run"]) == before
  assert not os.path.exists(places["fresh"])
  assert re.search(case.message, message), message


def test_debug_shows_the_traceback(places, run_cli):
  with pytest.raises(UserError, match=r"optim.name='sgdx'"):
    run_cli(*[arg.format(**places) for arg in train("--config.optim.name=sgdx", "--debug")])
  assert not os.path.exists(places["fresh"])


def copy_of_run(places, tmp_path) -> str:
  workdir = str(tmp_path / "copy")
  shutil.copytree(places["run"], workdir)
  return workdir


@pytest.mark.parametrize("name", ["config.json"])  # dataset.json is a record; the config implies it
def test_damaged_run_file_is_named(name, places, tmp_path, user_error, digest):
  workdir = copy_of_run(places, tmp_path)
  with open(os.path.join(workdir, name), "w") as f:
    f.write('{"half a fi')
  before = digest(workdir)
  message = user_error("eval", f"--workdir={workdir}")
  assert f"{workdir}/{name} is damaged: it is not valid JSON" in message
  assert digest(workdir) == before


def test_checkpoint_of_another_model_is_an_error_not_damage(places, tmp_path, user_error, digest):
  workdir = copy_of_run(places, tmp_path)
  path = os.path.join(workdir, "config.json")
  with open(path) as f:
    config = json.load(f)
  config["model"]["latent_dim"] = 5
  with open(path, "w") as f:
    json.dump(config, f)
  before = digest(workdir)
  message = user_error("sample", f"--workdir={workdir}")
  assert "the checkpoint at step 6 in" in message and "does not fit the model of this run's config" in message
  assert digest(workdir) == before
