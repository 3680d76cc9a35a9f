"""The benchmark family (benchmarks/family.py, benchmarks/ablations.py --family) and its diagnostics
(benchmarks/diagnose.py): the setting definitions, the data they build, the table, run reuse and the hooks. No
training runs here."""

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import ablations  # noqa: E402
import diagnose  # noqa: E402
import family  # noqa: E402
from conftest import make_tiny_config  # noqa: E402

from loco_hf import LocoFeatureExtractor, LocoForEventLocalization  # noqa: E402
from loco_hf.data.synthetic import SyntheticUnAVConfig, SyntheticVideo, generate_synthetic_video  # noqa: E402

SLICE = Path(__file__).parent / "data" / "unav100_slice.json"
BASELINE = ablations.BASELINE
LOCO = "LoCo (LCF + LAC)"


def test_settings_split_selection_and_report_by_timeline_source():
    settings = family.FAMILY_SETTINGS
    assert settings["default"].data == {} and settings["default"].role == "select"
    for name, setting in settings.items():
        assert setting.name == name
        assert setting.role == ("report" if setting.real_timelines else "select"), name
        assert name.startswith("real-" if setting.real_timelines else ("sampled-", "default"))
    # every sampled setting has its real-timeline twin with the same knobs
    for name, setting in settings.items():
        if name.startswith("sampled-"):
            assert settings[name.replace("sampled-", "real-", 1)].data == setting.data


def test_sweeps_change_one_knob_of_the_anchor_and_build_valid_generators():
    sweeps = {name: setting for name, setting in family.FAMILY_SETTINGS.items() if name.startswith("real-")}
    assert sweeps["real-anchor"].data == family.ANCHOR
    changed = {}
    for name, setting in sweeps.items():
        differences = {knob: value for knob, value in setting.data.items() if family.ANCHOR[knob] != value}
        assert len(differences) == (0 if name == "real-anchor" else 1), name
        changed[name] = differences
        config = SyntheticUnAVConfig(**family.generator_kwargs(setting, str(SLICE)))
        assert config.num_classes == 100 and config.timelines == str(SLICE)
    swept = sorted((knob, value) for differences in changed.values() for knob, value in differences.items())
    assert swept == sorted((knob, value) for knob, values in family.SWEEPS.items() for value in values)
    # the family's sweeps: distractors 0-3 per video, offset 0-3 steps
    assert {0.0, 1.0, 2.0, 3.0} == {
        family.ANCHOR["distractors_per_video"],
        *family.SWEEPS["distractors_per_video"],
    }
    assert {0.0, 1.0, 2.0, 3.0} == {family.ANCHOR["audio_offset_steps"], *family.SWEEPS["audio_offset_steps"]}
    with pytest.raises(ValueError, match="--timelines"):
        family.generator_kwargs(family.FAMILY_SETTINGS["real-anchor"], None)


def test_docs_hold_the_settings_table():
    text = (Path(__file__).parents[1] / "docs" / "ablations.md").read_text()
    assert family.format_settings() in text, "regenerate with: python benchmarks/ablations.py --family --list"


def test_videos_needed_counts_each_split():
    splits = ["train", "train", "validation", "train", "test", "validation", "test"]

    def split_of_index(index):
        return splits[index]

    assert family.videos_needed({"train": 2, "validation": 1, "test": 1}, split_of_index) == 5
    assert family.videos_needed({"train": 3, "validation": 2, "test": 2}, split_of_index) == 7
    with pytest.raises(ValueError, match="Only 7 videos"):
        family.videos_needed({"train": 4, "validation": 1, "test": 1}, split_of_index)


def test_setting_data_holds_the_first_videos_of_each_split(tmp_path):
    setting = family.FAMILY_SETTINGS["real-distractors-3"]
    sizes = {"train": 3, "validation": 2, "test": 2}
    folder = family.data_folder(tmp_path, setting, sizes)
    assert folder.name == "real-distractors-3-3-2-2"
    assert family.build_setting_data(setting, sizes, str(SLICE), folder) == folder
    import datasets

    dataset = datasets.load_from_disk(str(folder))
    assert {split: len(dataset[split]) for split in sizes} == sizes
    assert dataset["train"].features["labels"].feature.num_classes == 100
    # the same videos as diagnose's regeneration of the test split
    videos = diagnose.test_videos(setting, str(SLICE), 2)
    assert [video.video_id for video in videos] == dataset["test"]["video_id"]
    np.testing.assert_allclose(np.asarray(dataset["test"][0]["visual_features"]), videos[0].visual_features)
    # a second call reuses the folder
    (folder / "marker").write_text("kept")
    family.build_setting_data(setting, sizes, str(SLICE), folder)
    assert (folder / "marker").is_file()


def make_results(values: dict) -> list[dict]:
    """(setting, epochs, variant, seed) -> average mAP, as run results."""
    return [
        {
            "setting": setting, "role": family.FAMILY_SETTINGS[setting].role, "recipe": "small", "epochs": epochs,
            "variant": variant, "seed": seed, "average_mAP": value,
        }
        for (setting, epochs, variant, seed), value in values.items()
    ]  # fmt: skip


def test_family_table_pairs_each_variant_with_the_baseline_of_its_seed():
    results = make_results(
        {
            ("real-anchor", 5, BASELINE, 0): 0.10, ("real-anchor", 5, BASELINE, 1): 0.12,
            ("real-anchor", 5, LOCO, 0): 0.13, ("real-anchor", 5, LOCO, 1): 0.11,
            ("default", 15, BASELINE, 0): 0.30, ("default", 15, LOCO, 0): 0.35, ("default", 15, "LAC only", 1): 0.4,
        }
    )  # fmt: skip
    table = family.format_family_table(results, [BASELINE, "LAC only", LOCO], BASELINE)
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line][1:]
    # settings in the family's order
    assert [row.split(" | ")[0] for row in rows] == ["| default", "| real-anchor"]
    default, anchor = ([cell.strip() for cell in row.strip("|").split("|")] for row in rows)
    assert default == ["default", "select", "small", "15", "0, 1", "30.00", "40.00", "35.00 (+5.00; +5.00)"]
    assert anchor[:6] == ["real-anchor", "report", "small", "5", "0, 1", "11.00 ± 1.41"]
    assert anchor[6] == ""  # no LAC only run
    assert anchor[7] == "12.00 ± 1.41 (+3.00, -1.00; +1.00)"


def test_finished_runs_are_read_back_and_checked(tmp_path):
    training = {"model_overrides": json.dumps({"use_lcf": True}), "seed": 0, "num_epochs": 5}
    assert ablations.finished_metrics(tmp_path, training) is None
    summary = {f"test/{name}": 0.1 * index for index, name in enumerate(ablations.REPORTED)}
    stored = {"model_overrides": '{"use_lcf":true}', "seed": 0, "num_epochs": 5, "learning_rate": 5e-4}
    (tmp_path / "metrics.json").write_text(json.dumps({"summary": summary, "training": stored}))
    metrics = ablations.finished_metrics(tmp_path, training)
    assert metrics == {name: 0.1 * index for index, name in enumerate(ablations.REPORTED)}
    with pytest.raises(ValueError, match="num_epochs=5, not 15"):
        ablations.finished_metrics(tmp_path, {**training, "num_epochs": 15})


def test_write_section_replaces_only_its_own_markers(tmp_path):
    path = tmp_path / "ablations.md"
    ablations.write_section(path, "grid v1")
    ablations.write_section(path, "family v1", "family")
    ablations.write_section(path, "family v2", "family")
    text = path.read_text()
    assert "grid v1" in text and "family v2" in text and "family v1" not in text
    assert text.index("<!-- ablations:end -->") < text.index("<!-- family:start -->")


def test_step_kinds_put_events_over_distractors_over_background():
    extractor = LocoFeatureExtractor()  # 0.32 s steps, step g centred at 0.32 g + 0.48 s
    video = SyntheticVideo(
        video_id="v", duration=5.0, split="test", visual_features=np.zeros((1, 1)),
        audio_features=np.zeros((1, 1)), segments=np.array([[1.0, 2.0]]), labels=np.array([0]),
        visual_segments=np.zeros((0, 2)), audio_segments=np.zeros((0, 2)),
        distractor_segments=np.array([[1.5, 3.0], [3.2, 3.9]]), distractor_labels=np.array([1, 2]),
        distractor_modalities=["audio", "visual"],
    )  # fmt: skip
    kinds, classes = diagnose.step_kinds(video, 12, extractor, num_classes=3)
    names = [diagnose.STEP_KINDS[k] for k in kinds]
    centres = 0.32 * np.arange(12) + 0.48
    for centre, name, step_classes in zip(centres, names, classes, strict=True):
        if 1.0 <= centre <= 2.0:
            assert name == "event" and step_classes.tolist() == [True, False, False]
        elif 1.5 <= centre <= 3.0:
            assert name == "audio-only distractor" and step_classes.tolist() == [False, True, False]
        elif 3.2 <= centre <= 3.9:
            assert name == "visual-only distractor" and step_classes.tolist() == [False, False, True]
        else:
            assert name == "background" and not step_classes.any()
    assert set(names) == set(diagnose.STEP_KINDS)


@pytest.mark.parametrize("use_modules", [True, False])
def test_diagnose_reads_confidence_lcf_and_attention_with_hooks(use_modules):
    switches = (
        {"use_lcf": True, "use_lac": True}
        if use_modules
        else {"use_lcf": False, "use_lac": False, "cross_attention_query_source": "other_stream"}
    )
    config = make_tiny_config(**switches)
    torch.manual_seed(0)
    model = LocoForEventLocalization(config).eval()
    model.set_attn_implementation("eager")  # diagnose switches to "sdpa", whose arguments it reads
    extractor = LocoFeatureExtractor.from_model_config(config)
    data = SyntheticUnAVConfig(num_classes=5, visual_dim=24, audio_dim=12, distractors_per_video=3.0)
    videos = [generate_synthetic_video(index, data) for index in range(3)]
    before = model(**extractor([v.visual_features for v in videos[:1]], [v.audio_features for v in videos[:1]],
                               return_tensors="pt")).logits  # fmt: skip
    means = diagnose.diagnose_model(model, extractor, videos, batch_size=2)
    assert math.isclose(sum(means["share of steps"]), 1.0)
    assert all(0 < value < 1 for value in means["confidence"] if not math.isnan(value))
    # the own class's probability is one of the probabilities, never above the largest; background has no class
    for own, largest in zip(means["probability of its class"], means["confidence"], strict=True):
        assert math.isnan(own) or 0 < own <= largest + 1e-6
    assert math.isnan(means["probability of its class"][diagnose.STEP_KINDS.index("background")])
    local = [name for name in means if name.endswith("within 2 steps")]
    assert sorted(local) == ["audio update: within 2 steps", "visual update: within 2 steps"]
    lcf = [name for name in means if name.startswith("LCF")]
    null = [name for name in means if name.endswith("null key")]
    if use_modules:
        assert len(lcf) == 4 and len(null) == 2
        for name in ("audio update", "visual update"):
            for key in (f"{name}: null key", f"{name}: own window", f"{name}: within 2 steps"):
                assert all(0 <= value <= 1 for value in means[key] if not math.isnan(value)), key
            # null key plus the keys take all the mass; the window part is a share of the keys'
            for null_mass, window in zip(
                means[f"{name}: null key"], means[f"{name}: own window"], strict=True
            ):
                assert math.isnan(null_mass) or null_mass + window <= 1 + 1e-5
        assert all(-1 <= value <= 1 for value in means["LCF coherence (audio)"] if not math.isnan(value))
        assert all(0 < value < 1 for value in means["LCF gate (visual)"] if not math.isnan(value))
    else:
        assert not lcf and not null
    # the hooks leave the model as it was
    assert torch.nn.functional.scaled_dot_product_attention.__name__ == "scaled_dot_product_attention"
    after = model(**extractor([v.visual_features for v in videos[:1]], [v.audio_features for v in videos[:1]],
                              return_tensors="pt")).logits  # fmt: skip
    torch.testing.assert_close(before, after)


def test_validation_curve_reads_the_training_log(tmp_path):
    (tmp_path / "logs").mkdir()
    records = [
        {"config": {"num_epochs": 2, "total_updates": 20}},
        {"step": 10, "time": 0.0, "loss": 1.0},
        {"step": 10, "time": 0.0, "validation/average_mAP": 0.05},
        {"step": 20, "time": 0.0, "validation/average_mAP": 0.08},
        {"step": 20, "time": 0.0, "validation/average_mAP": 0.08, "test/average_mAP": 0.07},
    ]
    (tmp_path / "logs" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert diagnose.validation_curve(tmp_path) == [(1.0, 0.05), (2.0, 0.08)]
    assert diagnose.validation_curve(tmp_path / "missing") == []
