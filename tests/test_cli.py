"""Tests of the `loco-hf` command (loco_hf.cli): help texts, `predict` end to end, `train` and `evaluate` parsing
their configs, and the scripts giving the same output as the commands."""

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_tiny_config

from loco_hf import LocoFeatureExtractor, LocoForEventLocalization, cli
from loco_hf.pipeline_loco import save_pipeline

REPO_ROOT = Path(__file__).resolve().parents[1]


def run_cli(argv, capsys):
    """Runs `loco-hf argv`; returns (exit status, stdout, stderr)."""
    try:
        status = cli.main(argv)
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_console_entry_point():
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "loco-hf"]
    assert script.value == "loco_hf.cli:main"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--help"], ["predict", "evaluate", "train", "convert", "examples:"]),
        (["predict", "--help"], ["usage: loco-hf predict", "--visual", "--threshold", "--top_k", "--video_id",
                                 "--plot", "examples:", "seconds"]),
        (["train", "--help"], ["usage: loco-hf train", "--num_epochs", "--preset", "--output_dir", "--report_to"]),
        (["evaluate", "--help"], ["usage: loco-hf evaluate", "--model", "--split", "examples:"]),
        (["convert", "--help"], ["usage: loco-hf convert", "--checkpoint", "--output_dir", "--no_ema", "examples:"]),
    ],
)  # fmt: skip
def test_help_texts(argv, expected, capsys):
    status, out, _ = run_cli(argv, capsys)
    assert status == 0
    for text in expected:
        assert text in out, text
    assert "--top-k" not in out and "--video-id" not in out  # deprecated spellings are hidden


@pytest.mark.parametrize(
    ("command", "script"),
    [("evaluate", "evaluate"), ("predict", "predict"), ("convert", "convert_unav_checkpoint")],
)
def test_script_is_the_command(command, script):
    """`python scripts/<script>.py` and `loco-hf <command>` are one parser (same help, same usage line)."""

    def help_text(argv):
        finished = subprocess.run(
            [sys.executable, *argv, "--help"], capture_output=True, text=True, timeout=300
        )
        assert finished.returncode == 0, finished.stderr[-2000:]
        return finished.stdout

    assert help_text([str(REPO_ROOT / f"scripts/{script}.py")]) == help_text(["-m", "loco_hf.cli", command])


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    config = make_tiny_config()
    torch.manual_seed(0)
    model = LocoForEventLocalization(config).eval()
    with torch.no_grad():
        model.classification_head.prior_bias.fill_(0.0)
    directory = tmp_path_factory.mktemp("checkpoint")
    save_pipeline(model, LocoFeatureExtractor.from_model_config(config), directory)
    return directory


@pytest.fixture
def feature_files(tmp_path):
    generator = np.random.default_rng(0)
    paths = {}
    for name, steps in (("clip_a", 20), ("clip_b", 31)):
        paths[name] = (tmp_path / f"{name}_visual.npy", tmp_path / f"{name}_audio.npy")
        np.save(paths[name][0], generator.standard_normal((steps, 24)).astype(np.float32))
        np.save(paths[name][1], generator.standard_normal((steps, 12)).astype(np.float32))
    return paths


def test_predict_writes_json_and_timelines(checkpoint, feature_files, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    (visual_a, audio_a), (visual_b, audio_b) = feature_files.values()
    output, plot = tmp_path / "out" / "events.json", tmp_path / "plots" / "timeline.png"
    status, out, err = run_cli(
        ["predict", str(checkpoint), "--visual", str(visual_a), str(visual_b), "--audio", str(audio_a), str(audio_b),
         "--video_id", "a", "b", "--duration", "7.0", "10.5", "--top_k", "4", "--output", str(output), "--plot",
         str(plot)],
        capsys,
    )  # fmt: skip
    assert status == 0, err
    report = json.loads(output.read_text())
    assert report["threshold"] == 0.1 and report["top_k"] == 4
    assert [(v["video_id"], v["duration"]) for v in report["videos"]] == [("a", 7.0), ("b", 10.5)]
    for video in report["videos"]:
        events = video["events"]
        assert 0 < len(events) <= 4
        assert [e["start"] for e in events] == sorted(e["start"] for e in events)
        assert all(0 <= e["start"] <= e["end"] <= video["duration"] and e["score"] >= 0.1 for e in events)
    assert sorted(p.name for p in plot.parent.iterdir()) == ["timeline_a.png", "timeline_b.png"]
    assert out == "" and "Wrote the timeline of b" in err  # status lines on stderr: stdout is for the JSON


def test_predict_prints_json_with_default_ids_and_durations(checkpoint, feature_files, capsys):
    visual, audio = feature_files["clip_a"]
    status, out, _ = run_cli(
        ["predict", str(checkpoint), "--visual", str(visual), "--audio", str(audio)], capsys
    )
    assert status == 0
    (video,) = json.loads(out)["videos"]
    # The visual file's stem names the video; 20 steps on the UnAV grid end at (19 * 8 + 24) / 25 = 7.04 s.
    assert (video["video_id"], video["duration"]) == ("clip_a_visual", 7.04)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--duration", "1.0", "2.0"], "--duration needs one value per video"),
        (["--threshold", "2"], "threshold must be a number in"),
    ],
)
def test_predict_errors_exit_with_status_2(checkpoint, feature_files, extra, message, capsys):
    visual, audio = feature_files["clip_a"]
    status, _, err = run_cli(
        ["predict", str(checkpoint), "--visual", str(visual), "--audio", str(audio), *extra], capsys
    )
    assert status == 2
    assert message in err


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing folder", "no checkpoint folder './no-such-folder' (nor is it a Hub repo id)."),
        (
            "missing hub id",
            "cannot load the checkpoint 'org/no-such-model': no such folder, and from the Hub:",
        ),
        ("bogus device", "--device 'bogus' is not a torch device"),
        ("missing device", "--device 'cuda:7' is not available on this machine."),
        ("output under a file", "cannot be written: "),
        (
            "3-D features",
            "visual_features of video 'batch' must have shape (T, visual_dim), one video, got (3, 20, 24).",
        ),
    ],
)
def test_predict_problems_are_one_line_with_status_2(
    checkpoint, feature_files, tmp_path, case, message, capsys
):
    visual, audio = feature_files["clip_a"]
    model, extra = str(checkpoint), []
    if case == "missing folder":
        model = "./no-such-folder"
    elif case == "missing hub id":
        model = "org/no-such-model"
    elif case == "bogus device":
        extra = ["--device", "bogus"]
    elif case == "missing device":
        extra = ["--device", "cuda:7"]
    elif case == "output under a file":
        extra = ["--output", str(visual / "events.json")]
    else:
        visual = tmp_path / "batch.npy"
        np.save(visual, np.zeros((3, 20, 24), dtype=np.float32))
    status, out, err = run_cli(
        ["predict", model, "--visual", str(visual), "--audio", str(audio), *extra], capsys
    )
    assert (status, out) == (2, "")
    # The message is the last line of stderr (transformers may draw a loading progress bar before it).
    assert err.endswith("\n") and err.splitlines()[-1].startswith("loco-hf predict: error: ")
    assert message in err.splitlines()[-1] and "Traceback" not in err


def test_predict_old_option_spellings_warn(checkpoint, feature_files, capsys):
    visual, audio = feature_files["clip_a"]
    argv = ["predict", str(checkpoint), "--visual", str(visual), "--audio", str(audio)]
    with pytest.warns(FutureWarning) as warned:
        status, out, _ = run_cli([*argv, "--video-id", "old", "--top-k", "1", "--threshold", "0"], capsys)
    assert [str(warning.message) for warning in warned] == [
        "--video-id is deprecated and will be removed; use --video_id.",
        "--top-k is deprecated and will be removed; use --top_k.",
    ]
    assert status == 0
    (video,) = json.loads(out)["videos"]
    assert video["video_id"] == "old" and len(video["events"]) == 1
    assert json.loads(out) == json.loads(run_cli([*argv, "--video_id", "old", "--top_k", "1", "--threshold", "0"],
                                                 capsys)[1])  # fmt: skip


def test_predict_missing_file(checkpoint, feature_files, tmp_path, capsys):
    visual, _ = feature_files["clip_a"]
    status, _, err = run_cli(
        ["predict", str(checkpoint), "--visual", str(visual), "--audio", str(tmp_path / "nope.npy")], capsys
    )
    assert status == 2 and "no such .npy file" in err


def test_train_forwards_to_training(monkeypatch, capsys):
    from loco_hf import training

    seen = []
    monkeypatch.setattr(training, "train", seen.append)
    status, _, _ = run_cli(
        ["train", "--num_epochs", "2", "--output_dir", "somewhere", "--report_to", "none"], capsys
    )
    assert status == 0
    (config,) = seen
    assert isinstance(config, training.TrainingConfig)
    assert (config.num_epochs, config.output_dir, config.report_to) == (2, "somewhere", ["none"])


def test_evaluate_parses_an_evaluation_config(monkeypatch, capsys):
    from loco_hf import training

    seen = []
    monkeypatch.setattr(training, "evaluate_checkpoint", lambda config: seen.append(config) or {})
    assert run_cli(["evaluate", "--model", "outputs", "--split", "validation"], capsys)[0] == 0
    (config,) = seen
    assert (config.model, config.split) == ("outputs", "validation")


def test_old_evaluate_main_name_warns():
    from loco_hf import training

    with pytest.warns(FutureWarning, match="loco_hf.cli.evaluate_main"):
        assert training.evaluate_main is cli.evaluate_main


def test_train_prints_the_same_summary_from_the_command_and_the_script(tmp_path):
    """`loco-hf train` and `python scripts/train.py` print the same test mAP table and output folder on stdout
    (a one-epoch run of the tiny model on 15 synthetic videos, twice into the same folder)."""
    fields = ("visual_dim", "audio_dim", "hidden_size", "num_attention_heads", "intermediate_size",
              "num_pyramid_levels", "max_seq_len", "lcf_projection_dim", "dependency_hidden_size",
              "head_hidden_size", "id2label")  # fmt: skip
    overrides = json.dumps({name: getattr(make_tiny_config(), name) for name in fields})
    options = ["--num_videos", "15", "--model_overrides", overrides, "--num_epochs", "1", "--warmup_epochs", "0",
               "--batch_size", "4", "--cpu_threads", "1", "--output_dir", str(tmp_path)]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}

    def stdout_of(argv):
        finished = subprocess.run(
            [sys.executable, *argv, *options], env=environment, capture_output=True, text=True, timeout=600
        )
        assert finished.returncode == 0, finished.stderr[-4000:]
        return finished.stdout

    from_command = stdout_of(["-m", "loco_hf.cli", "train"])
    assert from_command.startswith("Test mAP (%)\n| 0.1 |")
    assert from_command.endswith(f"Outputs in {tmp_path}/\n")
    assert stdout_of([str(REPO_ROOT / "scripts/train.py")]) == from_command
