"""What a checkpoint folder and an output folder promise: nothing in them is unpickled, a damaged checkpoint is
skipped or named, a resumption must match its run's options and data, and the final model folder never mixes two
runs.

Every run is the tiny 2-epoch run of test_training (2 optimizer steps an epoch, checkpoints 2 and 4).
"""

import json
import logging
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from test_training import SimulatedKillError, tiny_training_config

from loco_hf.training import latest_checkpoint, resolve_checkpoint, train
from loco_hf.training import reporting as reporting_module

CHECKPOINT_FILES = (
    "model.safetensors", "optimizer.bin", "scheduler.bin", "random_states_0.pkl", "ema.safetensors",
    "best_ema.safetensors", "trainer_state.json", "run_options.json", "custom_checkpoint_0.pkl",
)  # fmt: skip


class CodeRunningPayload:
    """Unpickling this creates `marker`: what a file planted in a checkpoint folder could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').close()",)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished tiny run with its checkpoints 2 (end of epoch 1) and 4 (end of epoch 2)."""
    output_dir = tmp_path_factory.mktemp("finished")
    train(tiny_training_config(output_dir))
    return output_dir


@pytest.fixture
def run_copy(finished_run, tmp_path):
    """A copy of the finished run to damage or resume."""
    return shutil.copytree(finished_run, tmp_path / "run")


@pytest.mark.parametrize("name", CHECKPOINT_FILES)
def test_a_pickle_planted_in_any_checkpoint_file_never_runs(run_copy, tmp_path, name):
    """Whichever file of a checkpoint holds code to run on unpickling, resolving it names that file and runs
    nothing; "latest" skips it for the intact older checkpoint."""
    marker = tmp_path / "code_ran"
    checkpoint = run_copy / "checkpoints/checkpoint_4"
    torch.save(CodeRunningPayload(marker), checkpoint / name)
    with pytest.raises(ValueError, match=name):
        resolve_checkpoint(str(checkpoint), run_copy)
    assert resolve_checkpoint("latest", run_copy).name == "checkpoint_2"
    assert not marker.exists()


@pytest.mark.parametrize("name", ["custom_checkpoint_0.pkl", "random_states_0.pkl"])
def test_resuming_a_checkpoint_with_a_planted_pickle_refuses_it(run_copy, tmp_path, name):
    """The whole resume path: Accelerate unpickles custom_checkpoint_0.pkl without weights_only, and drops random
    states it cannot load without a word; both are refused before `load_state`, naming the file."""
    marker = tmp_path / "code_ran"
    checkpoint = run_copy / "checkpoints/checkpoint_4"
    torch.save(CodeRunningPayload(marker), checkpoint / name)
    with pytest.raises(ValueError, match=name):
        train(tiny_training_config(run_copy, resume_from_checkpoint=str(checkpoint)))
    assert not marker.exists()


def test_a_damaged_latest_checkpoint_falls_back_to_the_newest_intact_one(finished_run, run_copy, caplog):
    """A truncated model.safetensors in the newest checkpoint: "latest" warns naming it and resumes from the
    older checkpoint, which ends with the weights of the uninterrupted run; naming the damaged checkpoint is an
    error naming the file."""
    weights = run_copy / "checkpoints/checkpoint_4/model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ValueError, match=re.escape(str(weights))):
        resolve_checkpoint(str(weights.parent), run_copy)
    with caplog.at_level(logging.WARNING, logger="transformers.loco_hf.training.checkpointing"):
        train(tiny_training_config(run_copy, resume_from_checkpoint="latest"))
    assert f"Skipping checkpoint {weights.parent}" in caplog.text and str(weights) in caplog.text
    resumed, straight = (
        load_file(run_copy / "model.safetensors"),
        load_file(finished_run / "model.safetensors"),
    )
    for name, tensor in straight.items():
        torch.testing.assert_close(resumed[name], tensor, rtol=0, atol=1e-6, msg=name)


def test_a_trainer_state_that_is_not_json_blocks_nothing(run_copy, caplog):
    """A trainer_state.json that does not parse: the checkpoint is skipped with a warning naming the file, by
    `latest_checkpoint`, by resume and by a new run in the same folder (which replaces the checkpoints)."""
    state_file = run_copy / "checkpoints/checkpoint_4/trainer_state.json"
    state_file.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="transformers.loco_hf.training.checkpointing"):
        assert latest_checkpoint(run_copy).name == "checkpoint_2"
    assert str(state_file) in caplog.text
    assert resolve_checkpoint("latest", run_copy).name == "checkpoint_2"
    train(tiny_training_config(run_copy, num_epochs=1, warmup_epochs=0))
    assert sorted(path.name for path in (run_copy / "checkpoints").iterdir()) == ["checkpoint_2"]


def test_resuming_with_other_options_lists_each_difference(run_copy):
    """Options that change the run are refused, each listed; where outputs and logs go may change, and a save
    removes any leftover temporary checkpoint folder."""
    shutil.rmtree(run_copy / "checkpoints/checkpoint_4")
    with pytest.raises(ValueError, match="batch_size") as refused:
        train(tiny_training_config(run_copy, resume_from_checkpoint="latest", batch_size=2, seed=8))
    assert "seed: 7 in the checkpoint, 8 now" in str(refused.value)
    assert "batch_size: 4 in the checkpoint, 2 now" in str(refused.value)
    with pytest.raises(ValueError, match="num_videos") as refused:
        train(tiny_training_config(run_copy, resume_from_checkpoint="latest", num_videos=20))
    assert "data: fingerprint" in str(refused.value)
    with pytest.raises(ValueError, match="num_epochs: 2 in the checkpoint, 3 now"):
        train(tiny_training_config(run_copy, resume_from_checkpoint="latest", num_epochs=3))
    leftover = run_copy / "checkpoints/.tmp_checkpoint_99"
    leftover.mkdir()
    train(tiny_training_config(run_copy, resume_from_checkpoint="latest", logging_steps=5, num_workers=0))
    assert not leftover.exists()
    assert (run_copy / "checkpoints/checkpoint_4").is_dir()


def _output_bytes(folder) -> dict:
    names = ("model.safetensors", "config.json", "preprocessor_config.json", "metrics.json", "README.md")
    return {name: (folder / name).read_bytes() for name in names}


def test_a_run_killed_while_writing_its_outputs_leaves_the_previous_model_whole(run_copy, monkeypatch):
    """A new run killed after writing its weights but before its card keeps the previous run's folder intact;
    killed while moving its files in, it leaves no config.json (nothing loads a mixed folder); finished, it
    replaces every output of the previous run, removing those it does not write."""
    previous = _output_bytes(run_copy)
    new_run = tiny_training_config(run_copy, seed=8, num_epochs=1, warmup_epochs=0)

    def killed(*args, **kwargs):
        raise SimulatedKillError

    monkeypatch.setattr(reporting_module, "build_model_card", killed)
    with pytest.raises(SimulatedKillError):
        train(new_run)
    assert _output_bytes(run_copy) == previous
    monkeypatch.undo()

    replace = reporting_module.os.replace
    moved = []

    def replace_then_die(source, target):
        if (
            Path(source).parent.name == reporting_module.STAGING_NAME
        ):  # the outputs moving in, not checkpoints
            if len(moved) == 3:
                raise SimulatedKillError
            moved.append(target)
        replace(source, target)

    monkeypatch.setattr(reporting_module.os, "replace", replace_then_die)
    with pytest.raises(SimulatedKillError):
        train(new_run)
    assert not (run_copy / "config.json").exists()
    monkeypatch.undo()

    monkeypatch.setattr(reporting_module, "save_example_timeline", lambda *args: None)
    (run_copy / "timeline_example.png").write_bytes(b"a previous run's timeline")
    train(new_run)
    assert not (run_copy / "timeline_example.png").exists()
    assert not (run_copy / reporting_module.STAGING_NAME).exists()
    metrics = json.loads((run_copy / "metrics.json").read_text())
    assert metrics["training"]["seed"] == 8 and metrics["summary"]["global_step"] == 2
    finished = _output_bytes(run_copy)
    assert finished["model.safetensors"] != previous["model.safetensors"]
    assert finished["README.md"] != previous["README.md"]
