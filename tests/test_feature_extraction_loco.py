"""Tests of loco_hf.feature_extraction_loco: time mapping, padding and masks, annotations, NMS, post-processing.

Vectorised NMS and post-processing are checked against plain per-candidate loops written here, which follow the
UnAV reference step by step (per level threshold and top-k, decoding, per-class Gaussian soft-NMS, global top-k).
"""

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from loco_hf.configuration_loco import LocoConfig
from loco_hf.feature_extraction_loco import (
    LocoFeatureExtractor,
    decode_segments,
    seconds_to_steps,
    soft_nms_1d,
    steps_to_seconds,
    window_core_bounds,
    window_starts,
)

ANNOTATIONS_PATH = Path(__file__).parents[2] / "shared/data/unav100/unav100_annotations.json"
I3D_GRID = {"fps": 25.0, "feature_stride": 8, "feature_window": 24}


@pytest.fixture
def small_extractor():
    return LocoFeatureExtractor.from_model_config(LocoConfig.from_preset("small"))


@pytest.fixture
def small_model():
    from loco_hf import LocoForEventLocalization

    torch.manual_seed(0)
    return LocoForEventLocalization(LocoConfig.from_preset("small")).eval()


def random_video(generator, length, extractor):
    visual = generator.standard_normal((length, extractor.visual_dim)).astype(np.float32)
    audio = generator.standard_normal((length, extractor.audio_dim)).astype(np.float32)
    return visual, audio


# ----------------------------------------------------------------------------------------------------------------------
# Time mapping
# ----------------------------------------------------------------------------------------------------------------------


def test_i3d_time_mapping_facts():
    # UnAV reference, section 1.4: t = 0.32 g + 0.48 and g = 3.125 t - 1.5.
    assert steps_to_seconds(0.0, **I3D_GRID) == pytest.approx(0.48)
    assert seconds_to_steps(0.0, **I3D_GRID) == pytest.approx(-1.5)
    steps = np.arange(0, 200, 7, dtype=np.float64)
    np.testing.assert_allclose(steps_to_seconds(steps, **I3D_GRID), 0.32 * steps + 0.48)
    seconds = np.linspace(0.0, 60.0, 13)
    np.testing.assert_allclose(seconds_to_steps(seconds, **I3D_GRID), 3.125 * seconds - 1.5)
    # ONE-PEACE grid (16 fps, stride 4, window 16): one step is 0.25 s, step 0 is at 0.5 s.
    assert steps_to_seconds(4.0, fps=16.0, feature_stride=4, feature_window=16) == pytest.approx(1.5)


def test_seconds_steps_round_trip_keeps_type():
    values = [0.0, 0.2, 3.7, 59.99]
    as_float = seconds_to_steps(3.7, **I3D_GRID)
    assert isinstance(as_float, float)
    assert steps_to_seconds(as_float, **I3D_GRID) == pytest.approx(3.7)

    array = np.asarray(values)
    back = steps_to_seconds(seconds_to_steps(array, **I3D_GRID), **I3D_GRID)
    assert isinstance(back, np.ndarray)
    np.testing.assert_allclose(back, array, atol=1e-12)

    tensor = torch.tensor(values)
    back = steps_to_seconds(seconds_to_steps(tensor, **I3D_GRID), **I3D_GRID)
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32
    torch.testing.assert_close(back, tensor)

    assert isinstance(seconds_to_steps(values, **I3D_GRID), np.ndarray)
    integer_steps = torch.arange(3)
    torch.testing.assert_close(steps_to_seconds(integer_steps, **I3D_GRID), torch.tensor([0.48, 0.80, 1.12]))


def test_time_grid_must_be_positive():
    with pytest.raises(ValueError, match="fps"):
        seconds_to_steps(1.0, fps=0.0, feature_stride=8, feature_window=24)


def test_extractor_time_methods_use_its_grid(small_extractor):
    assert small_extractor.steps_to_seconds(10.0) == pytest.approx(3.68)
    assert small_extractor.seconds_to_steps(3.68) == pytest.approx(10.0)


def test_decode_segments():
    positions = torch.tensor([0.0, 4.0, 8.0])
    strides = torch.tensor([1.0, 2.0, 4.0])
    offsets = torch.tensor([[1.0, 2.0], [0.5, 0.0], [3.0, 0.25]])
    expected = torch.tensor([[-1.0, 2.0], [3.0, 4.0], [-4.0, 9.0]])
    torch.testing.assert_close(decode_segments(positions, strides, offsets), expected)


# ----------------------------------------------------------------------------------------------------------------------
# Construction and serialisation
# ----------------------------------------------------------------------------------------------------------------------


def test_from_model_config_copies_grid_and_classes():
    config = LocoConfig.from_preset("small")
    extractor = LocoFeatureExtractor.from_model_config(config, min_score=0.01)
    assert (extractor.visual_dim, extractor.audio_dim) == (256, 128)
    assert (extractor.fps, extractor.feature_stride, extractor.feature_window) == (25.0, 8, 24)
    assert extractor.max_seq_len == 224 and extractor.max_stride == 32
    assert extractor.id2label == config.id2label and extractor.num_labels == 20
    assert extractor.label2id[config.id2label[3]] == 3
    assert extractor.min_score == 0.01
    default = LocoFeatureExtractor()
    assert default.num_labels == 100 and default.id2label[0] == "man speaking"
    assert (default.pre_nms_threshold, default.pre_nms_top_k, default.min_segment_steps) == (
        0.001,
        2000,
        0.05,
    )
    assert (default.nms_method, default.nms_sigma, default.min_score, default.max_detections) == (
        "soft",
        0.4,
        0.001,
        100,
    )


def test_save_and_load_round_trip(tmp_path, small_extractor):
    small_extractor.max_detections = 50
    small_extractor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert saved["feature_extractor_type"] == "LocoFeatureExtractor"
    assert saved["id2label"]["0"] == small_extractor.id2label[0]
    loaded = LocoFeatureExtractor.from_pretrained(tmp_path)
    assert loaded.to_dict() == small_extractor.to_dict()
    assert all(isinstance(label_id, int) for label_id in loaded.id2label)
    assert loaded.max_detections == 50
    overridden = LocoFeatureExtractor.from_pretrained(tmp_path, nms_method="hard")
    assert overridden.nms_method == "hard"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"visual_dim": 0}, "visual_dim"),
        ({"max_seq_len": 100}, "max_stride"),
        ({"nms_method": "linear"}, "nms_method"),
        ({"nms_sigma": 0.0}, "nms_sigma"),
        ({"max_detections": 0}, "max_detections"),
        ({"id2label": {}}, "id2label"),
    ],
)
def test_invalid_settings_raise(kwargs, field):
    with pytest.raises(ValueError, match=field):
        LocoFeatureExtractor(**kwargs)


# ----------------------------------------------------------------------------------------------------------------------
# Padding and masks
# ----------------------------------------------------------------------------------------------------------------------


def test_inference_pads_to_max_seq_len_and_truncates_streams(small_extractor):
    generator = np.random.default_rng(0)
    visual_0, audio_0 = random_video(generator, 50, small_extractor)
    visual_1, audio_1 = random_video(generator, 100, small_extractor)
    batch = small_extractor([visual_0, visual_1], [audio_0, audio_1[:97]], return_tensors="pt")
    assert batch["visual_features"].shape == (2, 224, 256) and batch["visual_features"].dtype == torch.float32
    assert batch["audio_features"].shape == (2, 224, 128)
    assert batch["attention_mask"].dtype == torch.int64
    # Video 1 is truncated to the common length of its streams, 97 steps.
    assert batch["attention_mask"].sum(dim=1).tolist() == [50, 97]
    torch.testing.assert_close(batch["visual_features"][1, :97], torch.from_numpy(visual_1[:97]))
    torch.testing.assert_close(batch["audio_features"][0, :50], torch.from_numpy(audio_0))
    assert batch["visual_features"][1, 97:].abs().sum() == 0
    assert batch["attention_mask"][0, 50:].sum() == 0


def test_inference_pads_long_video_to_multiple_of_largest_stride(small_extractor):
    generator = np.random.default_rng(1)
    short, long = random_video(generator, 50, small_extractor), random_video(generator, 230, small_extractor)
    batch = small_extractor([short[0], long[0]], [short[1], long[1]])  # numpy out by default
    assert isinstance(batch["visual_features"], np.ndarray)
    assert batch["visual_features"].shape == (2, 256, 256)  # 230 -> next multiple of 32
    assert batch["attention_mask"].sum(axis=1).tolist() == [50, 230]


def test_training_pads_to_exactly_max_seq_len(small_extractor):
    generator = np.random.default_rng(2)
    videos = [random_video(generator, length, small_extractor) for length in (30, 224)]
    batch = small_extractor(
        [torch.from_numpy(v) for v, _ in videos], [a for _, a in videos], return_tensors="pt", training=True
    )
    assert batch["visual_features"].shape == (2, 224, 256)
    assert batch["attention_mask"].sum(dim=1).tolist() == [30, 224]


def test_longest_padding_rounds_up_to_the_largest_stride(small_extractor):
    visual = [np.ones((40, 256), np.float32), np.ones((70, 256), np.float32)]
    audio = [np.ones((40, 128), np.float32), np.ones((70, 128), np.float32)]
    batch = small_extractor(visual, audio, return_tensors="pt", training=True, padding="longest")
    assert batch["visual_features"].shape == (2, 96, 256) and batch["attention_mask"].sum(1).tolist() == [
        40,
        70,
    ]
    with pytest.raises(ValueError, match="padding must be"):
        small_extractor(visual, audio, padding="shortest")


def test_longest_padding_gives_the_same_predictions(small_extractor, small_model):
    model = small_model
    generator = np.random.default_rng(0)
    visual = [generator.standard_normal((length, 256), dtype=np.float32) for length in (40, 61)]
    audio = [generator.standard_normal((length, 128), dtype=np.float32) for length in (40, 61)]
    results = []
    for padding in ("max_length", "longest"):
        with torch.no_grad():
            outputs = model(**small_extractor(visual, audio, return_tensors="pt", padding=padding))
        results.append(small_extractor.post_process_event_localization(outputs, [15.0, 20.0]))
    for reference, compact in zip(*results, strict=True):
        torch.testing.assert_close(reference["scores"], compact["scores"], rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(reference["segments"], compact["segments"], rtol=1e-4, atol=1e-4)


def test_single_video_and_3d_batch(small_extractor):
    generator = np.random.default_rng(3)
    visual, audio = random_video(generator, 40, small_extractor)
    single = small_extractor(torch.from_numpy(visual), audio, return_tensors="pt")
    assert single["visual_features"].shape == (1, 224, 256)
    stacked = small_extractor(np.stack([visual, visual]), np.stack([audio, audio]), return_tensors="pt")
    assert stacked["attention_mask"].sum(dim=1).tolist() == [40, 40]


def _bad_batch(case, extractor):
    """Two videos, the second one broken as `case` says."""
    generator = np.random.default_rng(4)
    visual_0, audio_0 = random_video(generator, 20, extractor)
    visual_1, audio_1 = random_video(generator, 20, extractor)
    training = False
    if case == "visual channels":
        visual_1 = visual_1[:, :-1]
    elif case == "audio channels":
        audio_1 = np.zeros((20, extractor.audio_dim + 1), np.float32)
    elif case == "one-dimensional":
        visual_1 = visual_1.reshape(-1)
    elif case == "three-dimensional":
        audio_1 = audio_1[None]
    elif case == "ragged":
        visual_1 = [[0.0] * extractor.visual_dim, [0.0] * (extractor.visual_dim - 1)]
    elif case == "zero length":
        visual_1 = visual_1[:0]
    elif case == "nan":
        visual_1[3, 5] = np.nan
    elif case == "inf":
        audio_1[7, 0] = np.inf
    elif case == "too long for training":
        visual_1, audio_1 = random_video(generator, extractor.max_seq_len + 1, extractor)
        training = True
    visual, audio = [visual_0, visual_1], [audio_0, audio_1]
    if case == "missing audio":
        audio = [audio_0]
    return visual, audio, training


BAD_INPUT_CASES = [
    "visual channels",
    "audio channels",
    "one-dimensional",
    "three-dimensional",
    "ragged",
    "zero length",
    "nan",
    "inf",
    "too long for training",
    "missing audio",
]


@pytest.mark.parametrize("case", BAD_INPUT_CASES)
def test_bad_input_names_the_video(case, small_extractor):
    visual, audio, training = _bad_batch(case, small_extractor)
    with pytest.raises(ValueError, match=r"video 1\b"):
        small_extractor(visual, audio, training=training)
    with pytest.raises(ValueError, match="'clip-b'"):
        small_extractor(visual, audio, training=training, video_ids=["clip-a", "clip-b"])


def test_video_ids_must_match_batch(small_extractor):
    visual, audio = random_video(np.random.default_rng(5), 10, small_extractor)
    with pytest.raises(ValueError, match="video_ids"):
        small_extractor([visual], [audio], video_ids=["a", "b"])
    with pytest.raises(ValueError, match="no video"):
        small_extractor([], [])


# ----------------------------------------------------------------------------------------------------------------------
# Annotations <-> labels
# ----------------------------------------------------------------------------------------------------------------------


def test_annotations_to_labels_with_names_and_ids():
    extractor = LocoFeatureExtractor()  # UnAV-100 classes, I3D grid
    segments = [[0.0, 3.2], [1.0, 10.0]]
    by_name = extractor.annotations_to_labels(segments, ["dog barking", "man speaking"], duration=10.0)
    by_id = extractor.annotations_to_labels(np.asarray(segments), torch.tensor([12, 0]), duration=10.0)
    assert by_name["class_labels"].dtype == torch.long and by_name["class_labels"].tolist() == [12, 0]
    assert by_name["segments"].dtype == torch.float32
    torch.testing.assert_close(by_name["segments"], torch.tensor([[-1.5, 8.5], [1.625, 29.75]]))
    torch.testing.assert_close(by_id["segments"], by_name["segments"])
    assert torch.equal(by_id["class_labels"], by_name["class_labels"])

    empty = extractor.annotations_to_labels([], [])
    assert empty["segments"].shape == (0, 2) and empty["class_labels"].shape == (0,)


def test_labels_to_annotations_inverts_and_clamps():
    extractor = LocoFeatureExtractor()
    labels = extractor.annotations_to_labels([[0.0, 3.2], [5.5, 9.75]], [12, 99], duration=10.0)
    annotations = extractor.labels_to_annotations(labels)
    torch.testing.assert_close(annotations["segments"], torch.tensor([[0.0, 3.2], [5.5, 9.75]]))
    assert annotations["labels"].tolist() == [12, 99]
    assert annotations["label_names"] == ["dog barking", "hair dryer drying"]
    far = {"class_labels": torch.tensor([1]), "segments": torch.tensor([[-10.0, 100.0]])}
    torch.testing.assert_close(
        extractor.labels_to_annotations(far, duration=20.0)["segments"], torch.tensor([[0.0, 20.0]])
    )


@pytest.mark.parametrize(
    ("segments", "labels", "message"),
    [
        ([[0.0, 1.0]], ["no such class"], "Unknown class name"),
        ([[0.0, 1.0]], [100], "not in id2label"),
        ([[0.0, 1.0]], [1.5], "class ids or names"),
        ([[2.0, 2.0]], [0], "zero length"),
        ([[3.0, 2.0]], [0], "ends before"),
        ([[-0.5, 2.0]], [0], "outside"),
        ([[1.0, 10.5]], [0], "outside"),
        ([[1.0, 2.0, 3.0]], [0], "shape"),
        ([[1.0, 2.0]], [0, 1], "2 labels"),
        ([[1.0, float("nan")]], [0], "NaN"),
    ],
)
def test_bad_annotations_name_the_video(segments, labels, message):
    extractor = LocoFeatureExtractor()
    with pytest.raises(ValueError, match=message) as error:
        extractor.annotations_to_labels(segments, labels, duration=10.0, video_id="yt-abc")
    assert "'yt-abc'" in str(error.value)


@pytest.mark.skipif(not ANNOTATIONS_PATH.exists(), reason="UnAV-100 annotation file not available")
def test_real_unav100_annotations_convert():
    database = json.loads(ANNOTATIONS_PATH.read_text())["database"]
    extractor = LocoFeatureExtractor()
    num_events = 0
    for video_id, video in database.items():
        annotations = video["annotations"]
        labels = extractor.annotations_to_labels(
            [a["segment"] for a in annotations],
            [a["label"] for a in annotations],
            video["duration"],
            video_id,
        )
        assert labels["class_labels"].tolist() == [a["label_id"] for a in annotations]
        num_events += len(annotations)
    assert num_events == 30059


# ----------------------------------------------------------------------------------------------------------------------
# NMS against a plain loop
# ----------------------------------------------------------------------------------------------------------------------


def reference_nms(
    segments, scores, labels, sigma, min_score, max_detections, method="soft", iou_threshold=0.7
):
    """Per class: take the best, decay (or remove) the others, discard < min_score; then global top-k by score."""
    detections = []
    for label in sorted(set(labels)):
        remaining = [
            (start, end, score)
            for (start, end), score, candidate_label in zip(segments, scores, labels, strict=True)
            if candidate_label == label and score >= min_score
        ]
        kept = []
        while remaining and len(kept) < max_detections:
            best = max(range(len(remaining)), key=lambda i: remaining[i][2])
            best_start, best_end, best_score = remaining.pop(best)
            kept.append((best_start, best_end, best_score, label))
            survivors = []
            for start, end, score in remaining:
                intersection = max(0.0, min(end, best_end) - max(start, best_start))
                union = (end - start + 1e-6) + (best_end - best_start + 1e-6) - intersection
                iou = intersection / union
                if method == "soft":
                    score = score * math.exp(-(iou**2) / sigma)
                elif iou >= iou_threshold:
                    continue
                if score >= min_score:
                    survivors.append((start, end, score))
            remaining = survivors
        detections.extend(kept)
    detections.sort(key=lambda detection: -detection[2])
    return detections[:max_detections]


def random_candidates(seed, num_candidates=120, num_classes=4):
    generator = torch.Generator().manual_seed(seed)
    starts = torch.rand(num_candidates, generator=generator) * 40
    lengths = 0.2 + torch.rand(num_candidates, generator=generator) * 15
    segments = torch.stack((starts, starts + lengths), dim=1)
    scores = torch.rand(num_candidates, generator=generator)
    labels = torch.randint(num_classes, (num_candidates,), generator=generator)
    return segments, scores, labels


def assert_matches_reference(kept, expected):
    segments, scores, labels = kept
    assert len(scores) == len(expected)
    assert torch.all(scores[:-1] >= scores[1:])
    torch.testing.assert_close(segments, torch.tensor([[d[0], d[1]] for d in expected]), atol=1e-5, rtol=0)
    torch.testing.assert_close(scores, torch.tensor([d[2] for d in expected]), atol=1e-5, rtol=0)
    assert labels.tolist() == [d[3] for d in expected]


@pytest.mark.parametrize(
    ("seed", "sigma", "min_score", "max_detections"),
    [(0, 0.4, 0.001, 100), (1, 0.4, 0.001, 15), (2, 0.1, 0.05, 100), (3, 0.9, 0.2, 30), (4, 0.4, 0.001, 1)],
)
def test_soft_nms_matches_per_class_loop(seed, sigma, min_score, max_detections):
    segments, scores, labels = random_candidates(seed)
    kept = soft_nms_1d(
        segments, scores, labels, sigma=sigma, min_score=min_score, max_detections=max_detections
    )
    expected = reference_nms(
        segments.tolist(), scores.tolist(), labels.tolist(), sigma, min_score, max_detections
    )
    assert_matches_reference(kept, expected)


@pytest.mark.parametrize(("seed", "iou_threshold"), [(5, 0.7), (6, 0.3)])
def test_hard_nms_matches_per_class_loop(seed, iou_threshold):
    segments, scores, labels = random_candidates(seed)
    kept = soft_nms_1d(segments, scores, labels, method="hard", iou_threshold=iou_threshold)
    expected = reference_nms(
        segments.tolist(), scores.tolist(), labels.tolist(), 0.4, 0.001, 100, "hard", iou_threshold
    )
    assert_matches_reference(kept, expected)


@pytest.mark.parametrize("max_detections", [10, 60])
def test_nms_exact_when_heavy_decay_reaches_left_out_candidates(max_detections):
    # Near-duplicates in 4 clusters: after a few picks, every candidate among the 4 * max_detections best has decayed
    # below the best one left out, so a shortcut over the best candidates alone would keep the wrong events.
    generator = torch.Generator().manual_seed(7)
    starts = torch.tensor([10.0, 30.0])[torch.randint(2, (300,), generator=generator)]
    starts = starts + torch.rand(300, generator=generator)
    segments = torch.stack((starts, starts + 8), dim=1)
    scores, labels = torch.rand(300, generator=generator), torch.randint(2, (300,), generator=generator)
    kept = soft_nms_1d(segments, scores, labels, max_detections=max_detections)
    expected = reference_nms(segments.tolist(), scores.tolist(), labels.tolist(), 0.4, 0.001, max_detections)
    assert_matches_reference(kept, expected)


def test_nms_hand_case():
    segments = torch.tensor([[0.0, 10.0], [0.0, 10.0], [0.0, 8.0], [0.0, 10.0], [20.0, 30.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.0005])
    labels = torch.tensor([0, 0, 0, 1, 0])
    # Hard: [0, 8] has IoU 0.8 with [0, 10] and goes; class 1 is untouched; 0.0005 < min_score goes.
    hard_segments, hard_scores, hard_labels = soft_nms_1d(segments, scores, labels, method="hard")
    torch.testing.assert_close(hard_scores, torch.tensor([0.9, 0.6]))
    assert hard_labels.tolist() == [0, 1]
    torch.testing.assert_close(hard_segments, torch.tensor([[0.0, 10.0], [0.0, 10.0]]))
    # Soft: after 0.9, the duplicate decays by exp(-1 / 0.4) and [0, 8] (IoU 0.8) by exp(-0.64 / 0.4); [0, 8] is
    # then the best of class 0 and decays the duplicate once more.
    _, soft_scores, soft_labels = soft_nms_1d(segments, scores, labels)
    partial = 0.7 * math.exp(-0.64 / 0.4)
    duplicate = 0.8 * math.exp(-1 / 0.4) * math.exp(-0.64 / 0.4)
    torch.testing.assert_close(soft_scores, torch.tensor([0.9, 0.6, partial, duplicate]), atol=1e-5, rtol=0)
    assert soft_labels.tolist() == [0, 1, 0, 0]


def test_nms_without_candidates():
    segments, scores, labels = soft_nms_1d(
        torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long)
    )
    assert segments.shape == (0, 2) and scores.shape == (0,) and labels.shape == (0,)


# ----------------------------------------------------------------------------------------------------------------------
# Post-processing
# ----------------------------------------------------------------------------------------------------------------------


def hand_built_outputs():
    """Two levels: stride 1 at positions 0..3 (points 0-3), stride 2 at positions 0, 2 (points 4-5); 3 classes."""
    logits = torch.full((2, 6, 3), -20.0)
    offsets = torch.zeros(2, 6, 3, 2)
    point_mask = torch.ones(2, 6, dtype=torch.bool)
    # Video 0.
    logits[0, 2, 1], offsets[0, 2, 1] = 2.0, torch.tensor([1.0, 2.0])  # A: steps [1, 4]
    logits[0, 5, 0], offsets[0, 5, 0] = 1.0, torch.tensor([0.5, 1.0])  # B: steps [1, 4], another class
    logits[0, 1, 2], offsets[0, 1, 2] = 3.0, torch.tensor([0.01, 0.02])  # too short: 0.03 steps
    logits[0, 4, 2], offsets[0, 4, 2] = 0.5, torch.tensor([3.0, 10.0])  # D: steps [-6, 20], clamped
    logits[0, 3, 0], offsets[0, 3, 0] = math.log(0.0009 / 0.9991), 1.0  # score 0.0009 < the pre-NMS threshold
    logits[0, 3, 1], offsets[0, 3, 1] = 0.0, torch.tensor([2.0, 1.0])  # G: A's duplicate, decayed
    logits[0, 0, 1], offsets[0, 0, 1] = 5.0, torch.tensor([1.0, 1.0])  # padded point
    point_mask[0, 0] = False
    # Video 1: one event, steps [0, 1], past its duration.
    logits[1, 0, 0], offsets[1, 0, 0] = 0.0, torch.tensor([0.0, 1.0])
    return SimpleNamespace(
        logits=logits,
        segment_offsets=offsets,
        point_positions=torch.tensor([0.0, 1.0, 2.0, 3.0, 0.0, 2.0]),
        point_strides=torch.tensor([1.0, 1.0, 1.0, 1.0, 2.0, 2.0]),
        point_mask=point_mask,
    )


@pytest.fixture
def three_class_extractor():
    # I3D grid: t = 0.32 g + 0.48.
    return LocoFeatureExtractor(
        visual_dim=4, audio_dim=2, max_seq_len=8, max_stride=2, id2label={0: "a", 1: "b", 2: "c"}
    )


def test_post_process_hand_built_outputs(three_class_extractor):
    results = three_class_extractor.post_process_event_localization(
        hand_built_outputs(), durations=[5.0, 0.6]
    )
    assert len(results) == 2
    video = results[0]
    sigmoid = torch.sigmoid
    duplicate = float(sigmoid(torch.tensor(0.0))) * math.exp(-((3 / (3 + 2e-6)) ** 2) / 0.4)
    expected_scores = [
        float(sigmoid(torch.tensor(2.0))),
        float(sigmoid(torch.tensor(1.0))),
        float(sigmoid(torch.tensor(0.5))),
        duplicate,
    ]
    torch.testing.assert_close(video["scores"], torch.tensor(expected_scores), atol=1e-6, rtol=0)
    expected_seconds = torch.tensor([[0.80, 1.76], [0.80, 1.76], [0.0, 5.0], [0.80, 1.76]])
    torch.testing.assert_close(video["segments"], expected_seconds)
    assert video["segments"].dtype == torch.float32 and video["labels"].dtype == torch.long
    assert video["labels"].tolist() == [1, 0, 2, 1]
    assert video["label_names"] == ["b", "a", "c", "b"]

    other = results[1]
    torch.testing.assert_close(other["segments"], torch.tensor([[0.48, 0.6]]))
    torch.testing.assert_close(other["scores"], torch.tensor([0.5]))
    assert other["label_names"] == ["a"]


def test_post_process_overrides(three_class_extractor):
    outputs, durations = hand_built_outputs(), torch.tensor([5.0, 0.6])
    post_process = three_class_extractor.post_process_event_localization
    assert post_process(outputs, durations, max_detections=2)[0]["labels"].tolist() == [1, 0]
    assert post_process(outputs, durations, nms_method="hard")[0]["labels"].tolist() == [1, 0, 2]
    assert post_process(outputs, durations, min_score=0.05)[0]["labels"].tolist() == [1, 0, 2]
    # Top 1 per level before the length filter: level 0 keeps only the too-short candidate, level 1 keeps B.
    assert post_process(outputs, durations, pre_nms_top_k=1)[0]["labels"].tolist() == [0]
    # A lower pre-NMS threshold lets the 0.0009 candidate in (B, of its class, decays it by exp(-(2/3)^2 / 0.4)).
    result = post_process(outputs, durations, pre_nms_threshold=0.0005, min_score=0.0001)[0]
    torch.testing.assert_close(
        result["scores"][-1], torch.tensor(0.0009 * math.exp(-4 / 9 / 0.4)), atol=1e-6, rtol=0
    )
    assert result["labels"].tolist() == [1, 0, 2, 1, 0]


def test_post_process_bad_inputs(three_class_extractor):
    outputs = hand_built_outputs()
    with pytest.raises(ValueError, match="durations"):
        three_class_extractor.post_process_event_localization(outputs, durations=[5.0])
    with pytest.raises(ValueError, match="video 1"):
        three_class_extractor.post_process_event_localization(outputs, durations=[5.0, -1.0])
    with pytest.raises(ValueError, match="point_mask"):
        three_class_extractor.post_process_event_localization(
            SimpleNamespace(**{**vars(outputs), "point_mask": outputs.point_mask[:, :3]}), [5.0, 1.0]
        )
    with pytest.raises(ValueError, match="id2label"):
        LocoFeatureExtractor().post_process_event_localization(outputs, [5.0, 1.0])


def random_outputs(seed, batch_size=3, num_steps=16, strides=(1, 2, 4), num_classes=4):
    generator = torch.Generator().manual_seed(seed)
    positions = torch.cat([torch.arange(0, num_steps, stride, dtype=torch.float32) for stride in strides])
    point_strides = torch.cat([torch.full((len(range(0, num_steps, s)),), float(s)) for s in strides])
    num_points = len(positions)
    valid_steps = torch.randint(4, num_steps + 1, (batch_size,), generator=generator)
    return SimpleNamespace(
        logits=torch.randn(batch_size, num_points, num_classes, generator=generator) * 2 - 2,
        segment_offsets=torch.rand(batch_size, num_points, num_classes, 2, generator=generator) * 3,
        point_positions=positions,
        point_strides=point_strides,
        point_mask=positions[None] < valid_steps[:, None],
    )


def reference_post_process(extractor, outputs, durations, top_k):
    """The UnAV decoding, one candidate at a time."""
    results = []
    scores = torch.sigmoid(outputs.logits)
    positions, strides = outputs.point_positions.tolist(), outputs.point_strides.tolist()
    for video, duration in enumerate(durations):
        segments, candidate_scores, labels = [], [], []
        for stride in sorted(set(strides)):
            level = [
                (float(scores[video, point, label]), point, label)
                for point in range(len(positions))
                if strides[point] == stride and outputs.point_mask[video, point]
                for label in range(scores.shape[-1])
                if scores[video, point, label] > extractor.pre_nms_threshold
            ]
            for score, point, label in sorted(level, reverse=True)[:top_k]:
                left, right = outputs.segment_offsets[video, point, label].tolist()
                start, end = positions[point] - left * stride, positions[point] + right * stride
                if end - start > extractor.min_segment_steps:
                    segments.append((start, end))
                    candidate_scores.append(score)
                    labels.append(label)
        kept = reference_nms(
            segments,
            candidate_scores,
            labels,
            extractor.nms_sigma,
            extractor.min_score,
            extractor.max_detections,
        )
        results.append(
            [
                (
                    min(max(extractor.steps_to_seconds(start), 0.0), duration),
                    min(max(extractor.steps_to_seconds(end), 0.0), duration),
                    score,
                    label,
                )
                for start, end, score, label in kept
            ]
        )
    return results


@pytest.mark.parametrize(("seed", "top_k", "max_detections"), [(0, 2000, 100), (1, 7, 100), (2, 2000, 10)])
def test_post_process_matches_reference_loop(seed, top_k, max_detections):
    extractor = LocoFeatureExtractor(
        visual_dim=4, audio_dim=2, max_seq_len=16, max_stride=4, id2label=dict(enumerate("abcd")),
        pre_nms_top_k=top_k, max_detections=max_detections,
    )  # fmt: skip
    outputs, durations = random_outputs(seed), [4.0, 6.5, 3.0]
    results = extractor.post_process_event_localization(outputs, durations)
    for result, expected in zip(
        results, reference_post_process(extractor, outputs, durations, top_k), strict=True
    ):
        assert_matches_reference((result["segments"], result["scores"], result["labels"]), expected)
    # Batched and one-video-at-a-time post-processing agree.
    for video, result in enumerate(results):
        alone = SimpleNamespace(**{**vars(outputs), "logits": outputs.logits[video : video + 1]})
        alone.segment_offsets = outputs.segment_offsets[video : video + 1]
        alone.point_mask = outputs.point_mask[video : video + 1]
        (single,) = extractor.post_process_event_localization(alone, [durations[video]])
        torch.testing.assert_close(single["segments"], result["segments"])
        torch.testing.assert_close(single["scores"], result["scores"])
        assert single["label_names"] == result["label_names"]


def test_non_finite_logits_from_finite_inputs_raise(small_extractor, small_model):
    model = small_model
    with torch.no_grad():
        model.classification_head.prior_bias.fill_(math.nan)  # a corrupt weight
        visual, audio = random_video(np.random.default_rng(0), 40, small_extractor)
        outputs = model(**small_extractor(visual, audio, return_tensors="pt"))
    with pytest.raises(ValueError, match="logits for video 0 hold NaN or infinite values"):
        small_extractor.post_process_event_localization(outputs, [15.0])
    # Padded points are not decoded, so whatever they hold is no error.
    outputs.logits[:] = -5.0
    outputs.point_mask[:, 150:] = False
    outputs.logits[:, 150:] = math.nan
    (result,) = small_extractor.post_process_event_localization(outputs, [15.0])
    assert result["scores"].numel() > 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fps": 12.5}, "fps is 12.5 here but 25.0 in the model"),
        ({"feature_stride": 4}, "feature_stride is 4 here but 8 in the model"),
        ({"max_seq_len": 256}, "max_seq_len is 256 here but 224 in the model"),
        (
            {"id2label": {0: "renamed", **{i: f"LABEL_{i}" for i in range(1, 20)}}},
            "id2label\\[0\\] is 'renamed' here",
        ),
        ({"id2label": {i: f"LABEL_{i}" for i in range(19)}}, "id2label\\[19\\] is None here but 'LABEL_19'"),
    ],
)
def test_extractor_and_model_config_that_disagree_raise(changes, message):
    config = LocoConfig.from_preset("small")
    LocoFeatureExtractor.from_model_config(config).check_model_config(config)  # a matching pair passes
    extractor = LocoFeatureExtractor(
        **{**LocoFeatureExtractor.from_model_config(config).to_dict(), **changes}
    )
    with pytest.raises(ValueError, match=f"preprocessor_config.json.*disagree: {message}"):
        extractor.check_model_config(config)


# ----------------------------------------------------------------------------------------------------------------------
# Sliding windows over long videos
# ----------------------------------------------------------------------------------------------------------------------


def test_window_placement_hand_computed():
    assert window_starts(224, 224, 160, 32) == [0]
    assert window_starts(100, 224, 160, 32) == [0]
    # 500 steps: 0 and 160 by the hop, then the window ending at the video's end, its start rounded up to 32.
    assert window_starts(500, 224, 160, 32) == [0, 160, 288]
    assert window_starts(4480, 224, 160, 32)[-1] == 4256 and len(window_starts(4480, 224, 160, 32)) == 28
    # Cores split each overlap in its middle, rounded down to 32: (0 + 224 + 160) / 2 = 192, (160 + 224 + 288) / 2 = 336.
    assert window_core_bounds([0, 160, 288], 224, 32) == [(-math.inf, 192), (192, 320), (320, math.inf)]
    assert window_core_bounds([0], 224, 32) == [(-math.inf, math.inf)]


def test_default_window_overlap_and_its_checks(small_extractor):
    assert small_extractor.sliding_window and small_extractor.window_overlap_steps == 64
    for overlap in (16, 224, -32, 32.0):
        with pytest.raises(ValueError, match="window_overlap_steps must be a multiple of max_stride"):
            LocoFeatureExtractor.from_model_config(
                LocoConfig.from_preset("small"), window_overlap_steps=overlap
            )


class PatternModel(torch.nn.Module):
    """A stand-in model whose logits fire where visual channel 0 is 1: at the stride-1 points only, each seeing just
    its own step, with segments of +- 2 steps. It records the longest input it is given."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.longest_input = 0

    def forward(self, visual_features, audio_features, attention_mask):
        from loco_hf.loss_loco import make_points

        batch_size, length, _ = visual_features.shape
        self.longest_input = max(self.longest_input, length)
        padded = -(-length // self.config.max_stride) * self.config.max_stride
        positions, strides, _ = make_points(padded, self.config)
        pattern = torch.nn.functional.pad(visual_features[..., 0], (0, padded - length))  # (B, T')
        logits = torch.full((batch_size, len(positions), self.config.num_labels), -20.0)
        logits[:, :padded, 3] = 20.0 * pattern - 10.0  # the stride-1 points come first
        valid = positions[None].long() < attention_mask.sum(1, keepdim=True)  # (B, P)
        offsets = torch.full((batch_size, len(positions), self.config.num_labels, 2), 2.0)
        return SimpleNamespace(
            logits=logits,
            segment_offsets=offsets,
            point_positions=positions,
            point_strides=strides,
            point_mask=valid,
        )


def test_a_video_twenty_windows_long_is_localized_window_by_window(small_extractor):
    config = LocoConfig.from_preset("small")
    num_steps = 20 * config.max_seq_len
    visual = np.zeros((num_steps, config.visual_dim), dtype=np.float32)
    audio = np.zeros((num_steps, config.audio_dim), dtype=np.float32)
    # Events in the first window, on both sides of a core boundary (192), inside an overlap, and in the last window.
    event_steps = [3, 150, 191, 192, 200, 2000, num_steps - 4]
    visual[event_steps, 0] = 1.0 - 0.02 * np.arange(
        len(event_steps)
    )  # distinct scores: no ties in the NMS order
    inputs = small_extractor(visual, audio, return_tensors="pt")
    duration = float(small_extractor.steps_to_seconds(num_steps + 1))

    model = PatternModel(config)
    windowed = small_extractor.post_process_event_localization(
        small_extractor.forward_in_windows(model, inputs), [duration]
    )[0]
    assert model.longest_input == config.max_seq_len  # never more than one window at a time
    found = sorted(small_extractor.seconds_to_steps(windowed["segments"].mean(1)).round().long().tolist())
    assert found == event_steps  # each event once: none lost at a window edge, none doubled in an overlap
    assert (windowed["labels"] == 3).all()

    # This model sees only its own step, so windows must give exactly what one pass over the whole video gives.
    small_extractor.sliding_window = False
    whole_model = PatternModel(config)
    whole = small_extractor.post_process_event_localization(
        small_extractor.forward_in_windows(whole_model, inputs), [duration]
    )[0]
    assert whole_model.longest_input == num_steps
    for key in ("segments", "scores", "labels"):
        torch.testing.assert_close(windowed[key], whole[key])


def test_videos_within_max_seq_len_take_one_plain_call(small_extractor, small_model):
    model = small_model
    generator = np.random.default_rng(0)
    visual, audio = zip(
        *(random_video(generator, length, small_extractor) for length in (224, 61)), strict=True
    )
    inputs = small_extractor(visual, audio, return_tensors="pt")
    with torch.no_grad():
        direct, windowed = model(**inputs), small_extractor.forward_in_windows(model, inputs)
    assert windowed.logits.shape == direct.logits.shape
    torch.testing.assert_close(windowed.logits, direct.logits, rtol=0, atol=0)


def test_the_real_model_never_sees_more_than_one_window(small_extractor, small_model):
    model = small_model
    lengths = []
    model.loco.register_forward_hook(lambda module, args, output: lengths.append(output.padded_length))
    visual, audio = random_video(np.random.default_rng(0), 5 * 224 + 7, small_extractor)
    with torch.no_grad():
        outputs = small_extractor.forward_in_windows(
            model, small_extractor(visual, audio, return_tensors="pt")
        )
    assert max(lengths) == 224 and len(lengths) == len(window_starts(5 * 224 + 7, 224, 160, 32))
    (result,) = small_extractor.post_process_event_localization(outputs, [400.0])
    assert result["segments"].shape[0] == small_extractor.max_detections
    assert float(result["segments"].max()) > float(
        small_extractor.steps_to_seconds(4 * 224)
    )  # the last windows count
