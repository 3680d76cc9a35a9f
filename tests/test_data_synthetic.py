"""Tests of the synthetic UnAV-style data (loco_hf.data.synthetic)."""

import json
import math
from pathlib import Path

import datasets
import numpy as np
import pytest

from loco_hf.configuration_loco import UNAV100_CLASS_NAMES
from loco_hf.data import (
    UNAV100_STATISTICS,
    SyntheticUnAVConfig,
    annotation_statistics,
    format_statistics_table,
    generate_synthetic_video,
    synthetic,
    synthetic_class_names,
    synthetic_features,
    synthetic_unav,
    to_unav_annotations,
)

SLICE_ANNOTATIONS = Path(__file__).resolve().parent / "data" / "unav100_slice.json"
REAL_ANNOTATIONS = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "unav100" / "unav100_annotations.json"
)


@pytest.fixture(scope="module")
def thousand_videos(tmp_path_factory) -> datasets.DatasetDict:
    return synthetic_unav(1000, seed=0, cache_dir=str(tmp_path_factory.mktemp("synthetic_cache")))


@pytest.fixture(scope="module")
def real_statistics() -> dict:
    """Statistics of the real annotation file when present, else the reference numbers."""
    if REAL_ANNOTATIONS.exists():
        return annotation_statistics(json.loads(REAL_ANNOTATIONS.read_text()))
    return UNAV100_STATISTICS


def rows_of(dataset: datasets.Dataset) -> dict[str, dict]:
    return {row["video_id"]: row for row in dataset.with_format("numpy")}


# ------------------------------------------------------------------------------------------------------------
# Determinism, schema, splits
# ------------------------------------------------------------------------------------------------------------


def test_videos_are_deterministic_and_independent_of_the_count(tmp_path):
    first = generate_synthetic_video(7)
    again = generate_synthetic_video(7)
    np.testing.assert_array_equal(first.visual_features, again.visual_features)
    np.testing.assert_array_equal(first.audio_features, again.audio_features)
    np.testing.assert_array_equal(first.segments, again.segments)

    small = synthetic_unav(10, seed=3, cache_dir=str(tmp_path / "a"))
    large = synthetic_unav(25, seed=3, cache_dir=str(tmp_path / "b"))
    for split in ("train", "validation", "test"):
        small_rows, large_rows = rows_of(small[split]), rows_of(large[split])
        assert set(small_rows) <= set(large_rows)
        for video_id, row in small_rows.items():
            for name, value in row.items():
                np.testing.assert_array_equal(value, large_rows[video_id][name], err_msg=f"{video_id} {name}")

    other_seed = generate_synthetic_video(7, SyntheticUnAVConfig(seed=1))
    assert other_seed.duration != first.duration or not np.array_equal(other_seed.segments, first.segments)


def test_schema_splits_and_shapes(tmp_path):
    dataset = synthetic_unav(50, seed=0, cache_dir=str(tmp_path))
    assert {split: dataset[split].num_rows for split in dataset} == {
        "train": 30,
        "validation": 10,
        "test": 10,
    }
    config = SyntheticUnAVConfig()
    for split in dataset.values():
        assert split.features == synthetic_features(config)
    assert dataset["train"].features["labels"].feature.names == [
        f"synthetic event {i:02d}" for i in range(20)
    ]
    for row in dataset["validation"].with_format("numpy"):
        num_steps = math.floor((25 * float(row["duration"]) - 24) / 8) + 1
        assert row["visual_features"].shape == (num_steps, 256)
        assert row["audio_features"].shape == (num_steps, 128)
        assert row["segments"].shape == (len(row["labels"]), 2)
        assert 10.0 <= row["duration"] <= 60.0
        assert np.all(row["segments"][:, 1] > row["segments"][:, 0])
        assert np.all(row["segments"] >= 0) and np.all(row["segments"] <= row["duration"] + 1e-4)
        assert (row["fps"], row["feature_stride"], row["feature_window"]) == (25.0, 8, 24)
        # roughly the scale of standardised real features
        assert 0.7 < float(row["visual_features"].std()) < 1.6
        assert 0.7 < float(row["audio_features"].std()) < 1.6

    validation = synthetic_unav(50, seed=0, split="validation", cache_dir=str(tmp_path))
    assert isinstance(validation, datasets.Dataset)
    assert validation["video_id"] == dataset["validation"]["video_id"]


def test_other_class_counts_dims_and_dtype(tmp_path):
    dataset = synthetic_unav(
        10,
        num_classes=7,
        visual_dim=32,
        audio_dim=16,
        feature_dtype="float16",
        split="train",
        cache_dir=str(tmp_path),
    )
    assert dataset.features["labels"].feature.names == [f"synthetic event {i:02d}" for i in range(7)]
    assert dataset.features["visual_features"] == datasets.Array2D(shape=(None, 32), dtype="float16")
    row = dataset.with_format("numpy")[0]
    assert row["visual_features"].shape[1] == 32 and row["audio_features"].shape[1] == 16
    assert max(label for labels in dataset["labels"] for label in labels) < 7


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_videos": 0}, "num_videos"),
        ({"split": "val"}, "split"),
        ({"noise": -1.0}, "noise"),
        ({"distractor_rate": math.nan}, "distractor_rate"),
        ({"feature_dtype": "int8"}, "feature_dtype"),
        ({"num_classes": 0}, "num_classes"),
        ({"clean": True, "distractor_rate": 0.5}, "clean=True"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic_unav(**{"num_videos": 5, **kwargs})


# ------------------------------------------------------------------------------------------------------------
# Statistics against UnAV-100
# ------------------------------------------------------------------------------------------------------------


def test_class_names_name_every_class_with_its_id():
    assert synthetic_class_names(3) == ["synthetic event 00", "synthetic event 01", "synthetic event 02"]
    names = synthetic_class_names(120)
    assert names[7] == "synthetic event 007" and names[-1] == "synthetic event 119" and len(set(names)) == 120
    assert SyntheticUnAVConfig(num_classes=20).class_names == synthetic_class_names(20)


def overlapping_pairs(segments: list) -> list[tuple[int, int]]:
    """Index pairs (i < j) of events with a strictly positive intersection, counted one pair at a time."""
    return [
        (i, j)
        for i in range(len(segments))
        for j in range(i + 1, len(segments))
        if min(segments[i][1], segments[j][1]) > max(segments[i][0], segments[j][0])
    ]


def test_statistics_of_the_real_slice_count_what_the_file_holds():
    database = json.loads(SLICE_ANNOTATIONS.read_text())["database"]
    statistics = annotation_statistics(database)
    videos = list(database.values())
    events = [annotation for video in videos for annotation in video["annotations"]]
    assert statistics["videos"] == len(videos)
    assert statistics["events"] == len(events)
    assert statistics["events_per_video_max"] == max(len(video["annotations"]) for video in videos)
    assert statistics["classes_present"] == len({a["label_id"] for a in events})
    assert statistics["duration_mean_seconds"] == pytest.approx(np.mean([v["duration"] for v in videos]))
    pairs = {
        video_id: overlapping_pairs([a["segment"] for a in v["annotations"]])
        for video_id, v in database.items()
    }
    assert statistics["overlap_video_fraction"] == pytest.approx(np.mean([bool(p) for p in pairs.values()]))
    assert statistics["same_class_overlapping_pairs"] == sum(
        database[video_id]["annotations"][i]["label"] == database[video_id]["annotations"][j]["label"]
        for video_id, video_pairs in pairs.items()
        for i, j in video_pairs
    )
    starts = [a["segment"][0] for a in events]
    assert statistics["start_at_zero_event_fraction"] == pytest.approx(np.mean(np.array(starts) == 0))
    # the slice spans the shapes the statistics must handle: overlaps, crowded videos, events at 0 s
    assert 0 < statistics["overlap_video_fraction"] < 1 and statistics["events_per_video_max"] >= 9


@pytest.mark.skipif(
    not REAL_ANNOTATIONS.exists(), reason="whole-file statistics need the full UnAV-100 annotations"
)
def test_reference_statistics_match_the_real_file():
    statistics = annotation_statistics(json.loads(REAL_ANNOTATIONS.read_text()))
    for key, expected in UNAV100_STATISTICS.items():
        if isinstance(expected, dict):
            for bucket, fraction in expected.items():
                assert statistics[key][bucket] == pytest.approx(fraction, abs=6e-4), (key, bucket)
        else:
            assert statistics[key] == pytest.approx(expected, rel=2e-3, abs=6e-4), key


def test_thousand_videos_match_unav100_statistics(thousand_videos, real_statistics):
    assert sum(split.num_rows for split in thousand_videos.values()) == 1000
    annotations = to_unav_annotations(thousand_videos)
    assert {video["subset"] for video in annotations["database"].values()} == {"train", "validation", "test"}
    stats = annotation_statistics(annotations)
    real = real_statistics
    assert stats["videos"] == 1000
    assert stats["events_per_video_mean"] == pytest.approx(real["events_per_video_mean"], abs=0.25)
    assert stats["duration_mean_seconds"] == pytest.approx(real["duration_mean_seconds"], abs=2.0)
    assert stats["duration_median_seconds"] == pytest.approx(real["duration_median_seconds"], abs=2.0)
    for percentile in ("p5", "p25", "median", "p75", "p95"):
        key = f"event_length_{percentile}_seconds"
        assert stats[key] == pytest.approx(real[key], rel=0.25), key
    for group, tolerance in (
        ("event_length_buckets", 0.04),
        ("event_length_step_buckets", 0.04),
        ("events_per_video", 0.04),
    ):
        for bucket, fraction in real[group].items():
            assert stats[group][bucket] == pytest.approx(fraction, abs=tolerance), (group, bucket)
    for key, tolerance in (
        ("multi_class_video_fraction", 0.05),
        ("repeated_class_video_fraction", 0.05),
        ("overlap_video_fraction", 0.06),
        ("start_at_zero_event_fraction", 0.05),
    ):
        assert stats[key] == pytest.approx(real[key], abs=tolerance), key
    assert stats["max_simultaneous"]["1"] == pytest.approx(real["max_simultaneous"]["1"], abs=0.06)
    # overlapping events are always of different classes, repeated instances of one class never overlap
    assert stats["same_class_overlapping_pairs"] == 0
    # class frequencies are skewed like UnAV-100's (most frequent class first)
    counts = np.bincount(
        [a["label_id"] for v in annotations["database"].values() for a in v["annotations"]], minlength=20
    )
    assert counts.argmax() == 0 and counts.max() > 5 * counts.min() > 0

    table = format_statistics_table(real, stats)
    assert table.splitlines()[0] == "| statistic | UnAV-100 | synthetic |"
    assert "| videos with overlapping events |" in table


# ------------------------------------------------------------------------------------------------------------
# The physics: distractors, asynchrony, prototypes
# ------------------------------------------------------------------------------------------------------------


def window_overlap(spans: np.ndarray, num_steps: int) -> np.ndarray:
    """(n, T) bool: step g's window [0.32 g, 0.32 g + 0.96) s intersects the span."""
    starts = np.arange(num_steps) * 0.32
    return (spans[:, :1] < starts[None] + 0.96) & (spans[:, 1:] > starts[None])


def test_distractors_are_one_modality_and_not_labelled():
    config = SyntheticUnAVConfig()
    without = SyntheticUnAVConfig(distractor_rate=0.0)
    num_events = num_distractors = 0
    modalities = set()
    for index in range(60):
        video = generate_synthetic_video(index, config)
        reference = generate_synthetic_video(index, without)
        # the same labelled events and background: only the distractors differ
        np.testing.assert_array_equal(video.segments, reference.segments)
        num_events += len(video.labels)
        num_distractors += len(video.distractor_labels)
        hulls = np.stack(
            [
                np.minimum(video.visual_segments[:, 0], video.audio_segments[:, 0]),
                np.maximum(video.visual_segments[:, 1], video.audio_segments[:, 1]),
            ],
            1,
        )
        for (start, end), label, modality in zip(
            video.distractor_segments, video.distractor_labels, video.distractor_modalities, strict=True
        ):
            modalities.add(modality)
            same_class = hulls[video.labels == label]
            assert not np.any((same_class[:, 0] < end) & (same_class[:, 1] > start)), (
                f"video {index}: distractor on a labelled event"
            )
            # not a label: no labelled segment of its class coincides with it
            assert not any(
                np.allclose(segment, [start, end], atol=1e-3)
                for segment in video.segments[video.labels == label]
            )
        num_steps = len(video.visual_features)
        for modality, other in (("visual", "audio"), ("audio", "visual")):
            changed = np.any(
                getattr(video, f"{modality}_features") != getattr(reference, f"{modality}_features"), axis=1
            )
            in_modality = np.array([m == modality for m in video.distractor_modalities], dtype=bool)
            covered = window_overlap(video.distractor_segments[in_modality], num_steps).any(axis=0)
            assert not np.any(changed & ~covered), (
                f"video {index}: {modality} changed outside its distractors"
            )
            if in_modality.any():
                assert changed.any()
            # a modality's features never change for the other modality's distractors
            if not in_modality.any() and (~in_modality).any():
                assert not changed.any(), f"video {index}: {other} distractor leaked into {modality}"
    assert modalities == {"audio", "visual"}
    # about distractor_rate distractors per labelled event (a few are dropped when they find no free place)
    assert 0.5 * config.distractor_rate < num_distractors / num_events < 1.3 * config.distractor_rate


def test_asynchrony_makes_label_the_intersection_of_the_streams():
    config = SyntheticUnAVConfig(asynchrony_steps=2.5)
    onset_differences, audio_leads, visual_leads = [], 0, 0
    for index in range(60):
        video = generate_synthetic_video(index, config)
        np.testing.assert_allclose(
            np.maximum(video.visual_segments[:, 0], video.audio_segments[:, 0]),
            video.segments[:, 0],
            atol=1e-3,
        )
        np.testing.assert_allclose(
            np.minimum(video.visual_segments[:, 1], video.audio_segments[:, 1]),
            video.segments[:, 1],
            atol=1e-3,
        )
        inside = (video.visual_segments[:, 0] > 0) & (video.audio_segments[:, 0] > 0)  # not clipped at 0 s
        onset_differences.extend((video.audio_segments[inside, 0] - video.visual_segments[inside, 0]) / 0.32)
        audio_leads += int(np.sum(video.audio_segments[:, 0] < video.visual_segments[:, 0] - 1e-6))
        visual_leads += int(np.sum(video.visual_segments[:, 0] < video.audio_segments[:, 0] - 1e-6))
    assert audio_leads > 10 and visual_leads > 10
    assert 1.5 < np.std(onset_differences) < 3.5

    clean = generate_synthetic_video(3, SyntheticUnAVConfig(asynchrony_steps=0.0, distractor_rate=0.0))
    np.testing.assert_array_equal(clean.visual_segments, clean.audio_segments)
    assert len(clean.distractor_labels) == 0
    np.testing.assert_array_equal(clean.segments, generate_synthetic_video(3, config).segments)


def test_clean_shortcut(tmp_path):
    clean = synthetic_unav(10, split="train", clean=True, cache_dir=str(tmp_path))
    default = synthetic_unav(10, split="train", cache_dir=str(tmp_path))
    assert clean["segments"] == default["segments"] and clean["labels"] == default["labels"]
    manual = synthetic_unav(
        10, split="train", distractor_rate=0.0, asynchrony_steps=0.0, cache_dir=str(tmp_path)
    )
    np.testing.assert_array_equal(
        clean.with_format("numpy")[0]["visual_features"], manual.with_format("numpy")[0]["visual_features"]
    )


def test_events_carry_their_class_prototype_in_both_streams():
    config = SyntheticUnAVConfig()
    prototypes = dict(zip(("visual", "audio"), synthetic._class_prototypes(config), strict=True))
    signal_to_noise = {"visual": [], "audio": []}
    for index in range(30):
        video = generate_synthetic_video(index, config)
        num_steps = len(video.visual_features)
        centres = np.arange(num_steps) * 0.32 + 0.48
        for (start, end), label in zip(video.segments, video.labels, strict=True):
            inside = (centres > start + 0.5) & (centres < end - 0.5)
            # steps far from every source of this class, in either stream
            sources = np.concatenate(
                [
                    video.visual_segments[video.labels == label],
                    video.audio_segments[video.labels == label],
                    video.distractor_segments[video.distractor_labels == label],
                ]
            )
            outside = ~window_overlap(sources, num_steps).any(axis=0)
            if inside.sum() < 3 or outside.sum() < 3:
                continue
            for modality in ("visual", "audio"):
                direction = prototypes[modality][label] / np.linalg.norm(prototypes[modality][label])
                projection = getattr(video, f"{modality}_features") @ direction
                signal_to_noise[modality].append(
                    (projection[inside].mean() - projection[outside].mean()) / projection[outside].std()
                )
    # the class shows in both streams, clearly but not trivially: a few noise standard deviations per step
    for modality, values in signal_to_noise.items():
        assert 1.0 < np.median(values) < 6.0, (modality, np.median(values))


# ------------------------------------------------------------------------------------------------------------
# Conditions of the benchmark family: real timelines, distractors per video, audio offset, confusability
# ------------------------------------------------------------------------------------------------------------


def test_real_timelines_give_the_files_events_splits_and_classes(tmp_path):
    database = json.loads(SLICE_ANNOTATIONS.read_text())["database"]
    dataset = synthetic_unav(len(database), timelines=SLICE_ANNOTATIONS, cache_dir=str(tmp_path))
    assert dataset["train"].features["labels"].feature.names == UNAV100_CLASS_NAMES
    rows = {row["video_id"]: (split, row) for split in dataset for row in dataset[split].with_format("numpy")}
    assert len(rows) == len(database)
    for video_id, video in database.items():
        split, row = rows[f"synthetic-s0-{video_id}"]
        assert split == video["subset"]
        assert row["duration"] == pytest.approx(video["duration"])
        np.testing.assert_allclose(row["segments"], [a["segment"] for a in video["annotations"]], rtol=1e-6)
        assert row["labels"].tolist() == [a["label_id"] for a in video["annotations"]]
        assert len(row["visual_features"]) == math.floor((25 * video["duration"] - 24) / 8) + 1

    with pytest.raises(ValueError, match="timelines"):
        synthetic_unav(len(database) + 1, timelines=SLICE_ANNOTATIONS, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="num_classes"):
        SyntheticUnAVConfig(timelines=str(SLICE_ANNOTATIONS), num_classes=20)


def test_an_edited_timeline_file_is_read_again(tmp_path):
    path = tmp_path / "annotations.json"
    content = json.loads(SLICE_ANNOTATIONS.read_text())
    path.write_text(json.dumps(content))
    first = synthetic_unav(3, timelines=path, split="train", cache_dir=str(tmp_path / "cache"))
    video = next(iter(content["database"].values()))
    video["annotations"][0]["segment"] = [1.0, 2.0]
    path.write_text(json.dumps(content))
    edited = synthetic_unav(3, timelines=path, split="train", cache_dir=str(tmp_path / "cache"))
    assert first["segments"][0][0] != [1.0, 2.0] and edited["segments"][0][0] == [1.0, 2.0]


@pytest.mark.parametrize("per_video", [0.0, 3.0])
def test_distractors_per_video_whatever_the_number_of_events(per_video):
    config = SyntheticUnAVConfig(distractors_per_video=per_video)
    counts = [len(generate_synthetic_video(index, config).distractor_labels) for index in range(80)]
    if per_video == 0:
        assert sum(counts) == 0
    else:
        # a few distractors find no free place in a crowded video
        assert 0.8 * per_video < np.mean(counts) <= per_video + 0.5
    reference = generate_synthetic_video(5)
    np.testing.assert_array_equal(generate_synthetic_video(5, config).segments, reference.segments)


def test_audio_offset_delays_the_audio_of_every_event():
    config = SyntheticUnAVConfig(audio_offset_steps=2.0, asynchrony_steps=0.0)
    for index in range(20):
        video = generate_synthetic_video(index, config)
        visual, audio = video.visual_segments, video.audio_segments
        # 2 steps (0.64 s) later at both ends, where the video's edges do not clip a span
        onset_free, offset_free = visual[:, 0] > 0, audio[:, 1] < video.duration
        np.testing.assert_allclose(audio[onset_free, 0] - visual[onset_free, 0], 0.64, atol=1e-9)
        np.testing.assert_allclose(audio[offset_free, 1] - visual[offset_free, 1], 0.64, atol=1e-9)
        # the label is where both are present
        np.testing.assert_allclose(video.segments[:, 0], video.audio_segments[:, 0], atol=1e-3)


def test_independent_families_make_classes_confusable_in_one_modality_only():
    def family_correlation(prototypes: np.ndarray) -> np.ndarray:
        unit = prototypes / np.linalg.norm(prototypes, axis=1, keepdims=True)
        return unit @ unit.T

    shared = SyntheticUnAVConfig(family_share=0.6)
    crossed = SyntheticUnAVConfig(family_share=0.6, independent_families=True)
    visual, audio = (family_correlation(p) for p in synthetic._class_prototypes(shared))
    np.testing.assert_array_equal(visual > 0.4, audio > 0.4)  # the same families in both streams
    visual, audio = (family_correlation(p) for p in synthetic._class_prototypes(crossed))
    off_diagonal = ~np.eye(20, dtype=bool)
    visual_pairs, audio_pairs = (visual > 0.4) & off_diagonal, (audio > 0.4) & off_diagonal
    assert visual_pairs.sum() > 0 and audio_pairs.sum() > 0
    assert (visual_pairs & audio_pairs).sum() < visual_pairs.sum() / 2
    independent = SyntheticUnAVConfig(family_share=0.0)
    visual, _ = (family_correlation(p) for p in synthetic._class_prototypes(independent))
    assert np.abs(visual[off_diagonal]).max() < 0.4
