# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Tests of loco_hf.evaluation (mAP at tIoU thresholds, error analysis) and the metrics/dave_map module.

Hand-computed cases assert exact numbers; a plain loop written from the protocol text (reference notes §4) is the
oracle for random inputs.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers.testing_utils import CaptureLogger

from loco_hf import evaluation
from loco_hf.evaluation import (
    FALSE_POSITIVE_TYPES,
    average_precision_by_length,
    false_positive_breakdown,
    mean_average_precision,
    segment_iou,
)

REPO_ROOT = Path(__file__).parents[1]
ANNOTATIONS = Path(__file__).parents[2] / "shared/data/unav100/unav100_annotations.json"


def events(segments, labels, scores=None):
    """One video's entry: segments (k, 2) seconds, labels (k,), and scores (k,) for predictions."""
    entry = {
        "segments": np.asarray(segments, dtype=float).reshape(-1, 2),
        "labels": np.asarray(labels, dtype=int),
    }
    if scores is not None:
        entry["scores"] = np.asarray(scores, dtype=float)
    return entry


def single_class_ap(predictions, ground_truth, thresholds):
    result = mean_average_precision(predictions, ground_truth, tiou_thresholds=thresholds)
    assert result["class_ids"].tolist() == [0]
    return result["per_class_AP"][0].tolist()


# ---------------------------------------------------------------------------------------------------------------
# Oracle: a straightforward loop over the protocol text
# ---------------------------------------------------------------------------------------------------------------


def oracle_tiou(a, b):
    intersection = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - intersection
    return intersection / union if union > 0 else 0.0


def oracle_average_precision(predictions, ground_truth, thresholds):
    """Per-class AP, classes = sorted ids present in the ground truth. Returns (class_ids, (C, K) array)."""
    classes = sorted({int(label) for entry in ground_truth.values() for label in entry["labels"]})
    table = []
    for c in classes:
        gts = [
            (video, tuple(map(float, segment)))
            for video, entry in ground_truth.items()
            for segment, label in zip(entry["segments"], entry["labels"], strict=True)
            if label == c
        ]
        preds = [
            (float(score), video, tuple(map(float, segment)))
            for video, entry in predictions.items()
            for segment, score, label in zip(entry["segments"], entry["scores"], entry["labels"], strict=True)
            if label == c
        ]
        preds.sort(key=lambda p: -p[0])  # Python's sort is stable: ties keep input order
        row = []
        for threshold in thresholds:
            used = set()
            flags = []
            for _, video, segment in preds:
                candidates = [
                    (j, oracle_tiou(segment, gt)) for j, (gt_video, gt) in enumerate(gts) if gt_video == video
                ]
                candidates.sort(key=lambda item: -item[1])  # descending tIoU, ties: earlier event first
                true_positive = False
                for j, tiou in candidates:
                    if tiou < threshold:
                        break
                    if j in used:
                        continue
                    used.add(j)
                    true_positive = True
                    break
                flags.append(true_positive)
            precision, recall, tp, fp = [], [], 0, 0
            for flag in flags:
                tp, fp = tp + flag, fp + (not flag)
                precision.append(tp / (tp + fp))
                recall.append(tp / len(gts))
            mprec, mrec = [0.0, *precision, 0.0], [0.0, *recall, 1.0]
            for i in range(len(mprec) - 2, -1, -1):
                mprec[i] = max(mprec[i], mprec[i + 1])
            row.append(
                sum((mrec[i] - mrec[i - 1]) * mprec[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1])
            )
        table.append(row)
    return classes, np.array(table)


def random_case(seed, num_videos=30, num_classes=5, span_seconds=40.0):
    """Random ground truth and predictions: jittered copies of events (right or wrong class) plus random segments.

    Some videos have no events, some are absent from the ground truth, some classes appear only in predictions.
    A short `span_seconds` with few classes packs overlapping same-class events, where the matching order matters.
    """
    rng = np.random.default_rng(seed)
    ground_truth, predictions = {}, {}
    for index in range(num_videos):
        video = f"video{index}"
        num_events = int(rng.integers(0, 6))
        starts = rng.uniform(0, span_seconds, num_events)
        gt_segments = np.stack([starts, starts + rng.uniform(0.3, 15, num_events)], axis=1)
        gt_labels = rng.integers(0, num_classes, num_events)
        if index % 9 != 8:
            ground_truth[video] = events(gt_segments, gt_labels)
        segments, labels = [], []
        for _ in range(int(rng.integers(0, 14))):
            if num_events and rng.random() < 0.6:
                source = int(rng.integers(0, num_events))
                length = gt_segments[source, 1] - gt_segments[source, 0]
                start, end = np.sort(gt_segments[source] + rng.normal(0, 0.25, 2) * length)
                label = gt_labels[source] if rng.random() < 0.8 else rng.integers(0, num_classes + 1)
            else:
                start = rng.uniform(0, span_seconds + 10)
                end, label = start + rng.uniform(0.1, 20), rng.integers(0, num_classes + 1)
            segments.append([start, end])
            labels.append(label)
        predictions[video] = events(segments, labels, rng.random(len(labels)))
    ground_truth["video_anchor"] = events([[0.0, 5.0]], [0])  # at least one event
    return predictions, ground_truth


# ---------------------------------------------------------------------------------------------------------------
# mean_average_precision: hand-computed cases
# ---------------------------------------------------------------------------------------------------------------


def test_perfect_predictions_score_one():
    ground_truth = {
        "a": events([[0, 10], [5, 12], [20, 30]], [0, 1, 0]),
        "b": events([[1, 2]], [2]),
        "c": events([], []),
    }
    predictions = {
        "a": events([[0, 10], [5, 12], [20, 30]], [0, 1, 0], [0.9, 0.8, 0.7]),
        "b": events([[1, 2]], [2], [0.6]),
    }
    result = mean_average_precision(predictions, ground_truth)
    assert result["tiou_thresholds"] == np.linspace(0.1, 0.9, 9).tolist()
    assert result["class_ids"].tolist() == [0, 1, 2]
    assert result["per_class_AP"].shape == (3, 9)
    np.testing.assert_array_equal(result["mAP"], np.ones(9))
    assert result["average_mAP"] == 1.0


def test_false_positive_ranked_above_true_positive_halves_ap():
    # One event; ranking [FP, TP]: precision 1/2 at recall 1.
    ground_truth = {"a": events([[0, 10]], [0])}
    predictions = {"a": events([[20, 30], [0, 10]], [0, 0], [0.9, 0.8])}
    assert single_class_ap(predictions, ground_truth, [0.5]) == [0.5]


def test_duplicate_detection_is_a_false_positive():
    # Ranking [TP, duplicate, TP] over 2 events: precisions 1, 1/2, 2/3 -> AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    ground_truth = {"a": events([[0, 10], [20, 30]], [0, 0])}
    predictions = {"a": events([[0, 10], [0, 10], [20, 30]], [0, 0, 0], [0.9, 0.8, 0.7])}
    assert single_class_ap(predictions, ground_truth, [0.5]) == pytest.approx([5 / 6], abs=1e-15)


def test_ground_truth_is_matched_only_once():
    # Events [0, 10] and [5, 15]; two predictions [0, 10]. The first locks [0, 10]; the second walks on to [5, 15]
    # (tIoU 5/15 = 1/3): a hit at threshold 0.3, a false positive at 0.5 (AP = 1/2 * 1).
    ground_truth = {"a": events([[0, 10], [5, 15]], [0, 0])}
    predictions = {"a": events([[0, 10], [0, 10]], [0, 0], [0.9, 0.8])}
    assert single_class_ap(predictions, ground_truth, [0.3, 0.5]) == [1.0, 0.5]


def test_better_localised_but_lower_scored_prediction_is_a_false_positive():
    ground_truth = {"a": events([[0, 10]], [0])}
    predictions = {"a": events([[0, 8], [0, 10]], [0, 0], [0.9, 0.8])}  # tIoU 0.8 first, then 1.0
    assert single_class_ap(predictions, ground_truth, [0.5, 0.9]) == [1.0, 0.5]


def test_tiou_equal_to_threshold_is_a_true_positive():
    ground_truth = {"a": events([[0, 4]], [0])}
    predictions = {"a": events([[0, 2]], [0], [0.9])}  # tIoU exactly 2 / 4
    assert single_class_ap(predictions, ground_truth, [0.5, 0.6]) == [1.0, 0.0]


def test_default_thresholds_are_the_reference_linspace_values():
    # np.linspace(0.1, 0.9, 9)[2] is 0.30000000000000004, so a tIoU of exactly 0.3 misses that threshold, as in
    # the reference evaluator, while 0.5 (exactly representable) is hit.
    ground_truth = {"a": events([[0, 10]], [0])}
    result = mean_average_precision({"a": events([[0, 3]], [0], [0.9])}, ground_truth)
    assert result["per_class_AP"][0].tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    result = mean_average_precision({"a": events([[0, 5]], [0], [0.9])}, ground_truth)
    assert result["per_class_AP"][0].tolist() == [1.0] * 5 + [0.0] * 4


def test_class_without_predictions_scores_zero_and_lowers_the_mean():
    ground_truth = {"a": events([[0, 10], [20, 30]], [0, 1])}
    predictions = {"a": events([[0, 10]], [0], [0.9])}
    result = mean_average_precision(predictions, ground_truth, tiou_thresholds=[0.5, 0.7])
    assert result["per_class_AP"].tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert result["mAP"].tolist() == [0.5, 0.5]
    assert result["average_mAP"] == 0.5


def test_prediction_on_a_video_without_ground_truth_of_its_class_is_a_false_positive():
    # Video b has an event of class 1 only, so its class-0 prediction (ranked first) is a false positive.
    ground_truth = {"a": events([[0, 10]], [0]), "b": events([[0, 10]], [1])}
    predictions = {"b": events([[0, 10]], [0], [0.9]), "a": events([[0, 10]], [0], [0.8])}
    result = mean_average_precision(predictions, ground_truth, tiou_thresholds=[0.5])
    assert result["per_class_AP"].tolist() == [[0.5], [0.0]]


def test_predictions_on_videos_absent_from_ground_truth_are_false_positives():
    ground_truth = {"a": events([[0, 10]], [0])}
    predictions = {"a": events([[0, 10]], [0], [0.8]), "z": events([[0, 10], [3, 4]], [0, 0], [0.95, 0.9])}
    with CaptureLogger(evaluation.logger) as captured:
        result = mean_average_precision(predictions, ground_truth, tiou_thresholds=[0.5])
    assert result["per_class_AP"].tolist() == [[pytest.approx(1 / 3, abs=1e-15)]]  # ranking [FP, FP, TP]
    assert "absent from ground_truth" in captured.out and "'z'" in captured.out


def test_predictions_of_classes_absent_from_ground_truth_are_ignored():
    ground_truth = {"a": events([[0, 10]], [0])}
    predictions = {"a": events([[0, 10], [0, 10]], [7, 0], [0.99, 0.5])}
    result = mean_average_precision(predictions, ground_truth)
    assert result["class_ids"].tolist() == [0]
    assert result["average_mAP"] == 1.0


def test_num_classes_reports_every_class_but_averages_classes_with_ground_truth():
    ground_truth = {"a": events([[0, 10], [20, 30]], [1, 3])}
    predictions = {"a": events([[0, 10], [50, 60]], [1, 4], [0.9, 0.8])}
    result = mean_average_precision(predictions, ground_truth, tiou_thresholds=[0.5], num_classes=5)
    assert result["class_ids"].tolist() == [0, 1, 2, 3, 4]
    per_class = result["per_class_AP"][:, 0]
    assert np.isnan(per_class[[0, 2, 4]]).all()
    assert per_class[[1, 3]].tolist() == [1.0, 0.0]
    assert result["mAP"].tolist() == [0.5]
    with pytest.raises(ValueError, match=r"predictions\['a'\]\['labels'\].*num_classes=4"):
        mean_average_precision(predictions, ground_truth, num_classes=4)


def test_equal_scores_rank_in_input_order():
    ground_truth = {"a": events([[0, 10]], [0])}
    false_first = {"a": events([[50, 60], [0, 10]], [0, 0], [0.5, 0.5])}
    true_first = {"a": events([[0, 10], [50, 60]], [0, 0], [0.5, 0.5])}
    assert single_class_ap(false_first, ground_truth, [0.5]) == [0.5]
    assert single_class_ap(true_first, ground_truth, [0.5]) == [1.0]


def test_equal_tiou_visits_the_earlier_listed_event_first():
    # [1, 5] has tIoU 1/5 with both [0, 2] and [4, 6] and takes the one listed first. The next prediction, [0, 2],
    # then finds its event taken when [0, 2] is listed first, and free when [4, 6] is listed first.
    predictions = {"a": events([[1, 5], [0, 2]], [0, 0], [0.9, 0.8])}
    assert single_class_ap(predictions, {"a": events([[0, 2], [4, 6]], [0, 0])}, [0.2]) == [0.5]
    assert single_class_ap(predictions, {"a": events([[4, 6], [0, 2]], [0, 0])}, [0.2]) == [1.0]


def test_accepts_torch_tensors_and_lists():
    ground_truth = {"a": {"segments": [[0.0, 10.0], [20.0, 30.0]], "labels": [0, 0]}}
    as_numpy = {"a": events([[20, 30], [0, 8], [0, 10]], [0, 0, 0], [0.9, 0.8, 0.7])}
    as_torch = {
        "a": {
            "segments": torch.tensor(as_numpy["a"]["segments"], dtype=torch.float32),
            "scores": torch.tensor(as_numpy["a"]["scores"], requires_grad=True),
            "labels": torch.tensor([0, 0, 0]),
            "label_names": ["x", "x", "x"],
        }
    }
    expected = mean_average_precision(as_numpy, ground_truth)
    result = mean_average_precision(as_torch, ground_truth)
    np.testing.assert_array_equal(result["per_class_AP"], expected["per_class_AP"])


def test_segment_iou():
    assert segment_iou([0.0, 4.0], [0.0, 2.0]) == 0.5
    assert segment_iou([0.0, 1.0], [2.0, 3.0]) == 0.0
    assert segment_iou([1.0, 1.0], [1.0, 1.0]) == 0.0  # zero union: 0, not NaN
    np.testing.assert_allclose(
        segment_iou(np.array([[0.0, 10.0]]), np.array([[5.0, 15.0], [0.0, 5.0]])), [1 / 3, 0.5]
    )


# ---------------------------------------------------------------------------------------------------------------
# mean_average_precision: against the oracle, invariances, real annotations
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "num_classes", "span_seconds"), [(0, 5, 40), (1, 5, 40), (2, 2, 10), (3, 2, 10)]
)
def test_matches_brute_force_oracle_on_random_data(seed, num_classes, span_seconds):
    predictions, ground_truth = random_case(seed, num_classes=num_classes, span_seconds=span_seconds)
    thresholds = np.linspace(0.1, 0.9, 9)
    classes, expected = oracle_average_precision(predictions, ground_truth, thresholds)
    result = mean_average_precision(predictions, ground_truth)
    assert result["class_ids"].tolist() == classes
    assert 0 < result["average_mAP"] < 1  # a non-trivial case
    np.testing.assert_allclose(result["per_class_AP"], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result["mAP"], expected.mean(axis=0), rtol=1e-12, atol=1e-12)


def test_invariant_to_prediction_order_within_and_across_videos():
    predictions, ground_truth = random_case(4)
    rng = np.random.default_rng(0)
    shuffled = {}
    for video in rng.permutation(list(predictions)):
        entry = predictions[video]
        permutation = rng.permutation(len(entry["scores"]))
        shuffled[video] = {key: value[permutation] for key, value in entry.items()}
    expected = mean_average_precision(predictions, ground_truth)
    result = mean_average_precision(shuffled, ground_truth)
    np.testing.assert_array_equal(result["per_class_AP"], expected["per_class_AP"])


def test_ground_truth_as_predictions_scores_one_on_unav100_test_split():
    if not ANNOTATIONS.is_file():
        pytest.skip("UnAV-100 annotation file not available")
    database = json.loads(ANNOTATIONS.read_text())["database"]
    ground_truth = {
        video: events(
            [event["segment"] for event in entry["annotations"]],
            [e["label_id"] for e in entry["annotations"]],
        )
        for video, entry in database.items()
        if entry["subset"] == "test"
    }
    # Every score equal: the ranking falls back to input order; every prediction finds its own event.
    predictions = {
        video: {**entry, "scores": np.ones(len(entry["labels"]))} for video, entry in ground_truth.items()
    }
    result = mean_average_precision(predictions, ground_truth)
    assert len(result["class_ids"]) == 100
    assert result["average_mAP"] == 1.0


# ---------------------------------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------------------------------

GOOD_TRUTH = {"good": events([[0, 10]], [0])}
GOOD_PREDICTION = events([[0, 10]], [0], [0.9])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"segments": np.zeros((1, 3)), "scores": [0.9], "labels": [0]}, r"\['segments'\] must have shape"),
        ({"segments": [[5.0, 1.0]], "scores": [0.9], "labels": [0]}, "ends before it starts"),
        ({"segments": [[np.nan, 1.0]], "scores": [0.9], "labels": [0]}, "non-finite time"),
        (
            {"segments": [[0.0, 1.0]], "scores": [0.9, 0.8], "labels": [0]},
            r"\['scores'\] must have shape \(1,\)",
        ),
        (
            {"segments": [[0.0, 1.0]], "scores": [0.9], "labels": [0, 1]},
            r"\['labels'\] must have shape \(1,\)",
        ),
        ({"segments": [[0.0, 1.0]], "scores": [np.nan], "labels": [0]}, "non-finite score"),
        ({"segments": [[0.0, 1.0]], "scores": [0.9], "labels": [0.5]}, "integer class ids"),
        ({"segments": [[0.0, 1.0]], "scores": [0.9], "labels": [-1]}, "negative class id"),
        ({"segments": [[0.0, 1.0]], "labels": [0]}, "no 'scores' field"),
        ({"segments": [["a", "b"]], "scores": [0.9], "labels": [0]}, "not numbers"),
    ],
)
def test_malformed_predictions_raise_naming_the_video(bad, message):
    predictions = {"good": GOOD_PREDICTION, "bad_video": bad}
    with pytest.raises(ValueError, match=rf"predictions\['bad_video'\].*{message}|{message}.*bad_video"):
        mean_average_precision(predictions, GOOD_TRUTH)


def test_malformed_ground_truth_raises_naming_the_video():
    with pytest.raises(
        ValueError, match=r"ground_truth\['bad_video'\]\['segments'\] holds a non-finite time"
    ):
        mean_average_precision({}, {**GOOD_TRUTH, "bad_video": events([[0, np.inf]], [0])})
    with pytest.raises(ValueError, match=r"ground_truth\['bad_video'\]\['labels'\] must have shape"):
        mean_average_precision({}, {"bad_video": {"segments": [[0, 1]], "labels": [0, 0]}})


@pytest.mark.parametrize("thresholds", [[0.0], [1.5], [], [[0.5]], [np.nan]])
def test_bad_thresholds_raise(thresholds):
    with pytest.raises(ValueError, match="tiou_thresholds"):
        mean_average_precision({"good": GOOD_PREDICTION}, GOOD_TRUTH, tiou_thresholds=thresholds)


def test_ground_truth_without_events_raises():
    with pytest.raises(ValueError, match="no events"):
        mean_average_precision({"good": GOOD_PREDICTION}, {"good": events([], [])})
    with pytest.raises(ValueError, match="must be a dict"):
        mean_average_precision([GOOD_PREDICTION], GOOD_TRUTH)


# ---------------------------------------------------------------------------------------------------------------
# Error analysis
# ---------------------------------------------------------------------------------------------------------------


def test_average_precision_by_length_drops_predictions_matched_to_other_buckets():
    # Events: [0, 1] (1 s, bucket [0, 2)) and [10, 25] (15 s, bucket [10, 30)). Ranking: hit on the long event,
    # a background false positive, hit on the short event.
    ground_truth = {"a": events([[0, 1], [10, 25]], [0, 0])}
    predictions = {"a": events([[10, 25], [40, 45], [0, 1]], [0, 0, 0], [0.9, 0.8, 0.7])}
    result = average_precision_by_length(predictions, ground_truth, tiou_thresholds=[0.5])
    assert list(result) == ["[0, 2)", "[2, 10)", "[10, 30)", "[30, inf)"]
    assert result["[0, 2)"]["mAP"].tolist() == [0.5]  # ranking [FP, TP]: the long-event hit is dropped
    assert result["[0, 2)"]["average_mAP"] == 0.5
    assert result["[10, 30)"]["mAP"].tolist() == [1.0]  # ranking [TP, FP]: the short-event hit is dropped
    assert [result[label]["num_events"] for label in result] == [1, 0, 1, 0]
    assert math.isnan(result["[2, 10)"]["average_mAP"]) and math.isnan(result["[30, inf)"]["average_mAP"])
    # All events together: ranking [TP, FP, TP] -> 1/2 + 1/2 * 2/3.
    overall = mean_average_precision(predictions, ground_truth, tiou_thresholds=[0.5])
    assert overall["average_mAP"] == pytest.approx(5 / 6, abs=1e-15)


def test_average_precision_by_length_with_one_bucket_equals_the_overall_map():
    predictions, ground_truth = random_case(5)
    overall = mean_average_precision(predictions, ground_truth)
    by_length = average_precision_by_length(predictions, ground_truth, length_bins_seconds=[(0, math.inf)])
    np.testing.assert_allclose(by_length["[0, inf)"]["mAP"], overall["mAP"], rtol=1e-12, atol=1e-12)


def test_average_precision_by_length_rejects_bad_buckets():
    with pytest.raises(ValueError, match="low < high"):
        average_precision_by_length({"good": GOOD_PREDICTION}, GOOD_TRUTH, length_bins_seconds=[(2, 1)])
    with pytest.raises(ValueError, match="pairs"):
        average_precision_by_length({"good": GOOD_PREDICTION}, GOOD_TRUTH, length_bins_seconds=[3])


def test_false_positive_breakdown_types_each_error():
    # Class-0 event [0, 10], class-1 event [20, 30]; class-0 predictions, one of each kind, at threshold 0.5.
    ground_truth = {"a": events([[0, 10], [20, 30]], [0, 1])}
    predictions = {
        "a": events(
            [[0, 10], [0, 9], [0, 3], [20, 30], [22, 25], [40, 45]],
            [0] * 6,
            [0.95, 0.9, 0.85, 0.8, 0.75, 0.7],
        )
    }
    # true positive, duplicate (tIoU 0.9, taken), wrong_location (0.3), wrong_class (1.0 with class 1),
    # confusion (0.3 with class 1), background
    result = false_positive_breakdown(predictions, ground_truth, tiou_threshold=0.5, top_k_per_gt=None)
    assert result["num_predictions"] == 6
    assert result["num_true_positives"] == 1
    assert result["num_false_positives"] == 5
    assert result["counts"] == dict.fromkeys(FALSE_POSITIVE_TYPES, 1)
    assert result["fractions"] == dict.fromkeys(FALSE_POSITIVE_TYPES, 0.2)
    assert false_positive_breakdown(predictions, ground_truth, top_k_per_gt=6)["counts"] == result["counts"]
    # Top-1G: class 0 has one event, so only its best prediction (the hit) is considered.
    top = false_positive_breakdown(predictions, ground_truth, top_k_per_gt=1)
    assert (top["num_predictions"], top["num_false_positives"]) == (1, 0)
    assert top["fractions"] == dict.fromkeys(FALSE_POSITIVE_TYPES, 0.0)
    # Top-3G: hit, duplicate, wrong_location.
    top = false_positive_breakdown(predictions, ground_truth, top_k_per_gt=3)
    assert top["counts"] == {**dict.fromkeys(FALSE_POSITIVE_TYPES, 0), "duplicate": 1, "wrong_location": 1}


def test_false_positive_breakdown_checks_same_class_first():
    # Events of classes 0 and 1 on the same segment: a second class-0 hit is a duplicate, not a wrong class.
    ground_truth = {"a": events([[0, 10], [0, 10]], [0, 1])}
    predictions = {"a": events([[0, 10], [0, 10]], [0, 0], [0.9, 0.8])}
    result = false_positive_breakdown(predictions, ground_truth, top_k_per_gt=None)
    assert result["counts"]["duplicate"] == 1 and result["num_false_positives"] == 1


def test_false_positive_breakdown_rejects_bad_arguments():
    with pytest.raises(ValueError, match="top_k_per_gt"):
        false_positive_breakdown({"good": GOOD_PREDICTION}, GOOD_TRUTH, top_k_per_gt=0)
    with pytest.raises(ValueError, match="tiou_thresholds"):
        false_positive_breakdown({"good": GOOD_PREDICTION}, GOOD_TRUTH, tiou_threshold=2.0)


# ---------------------------------------------------------------------------------------------------------------
# evaluate module (conftest sets HF_HOME and HF_HUB_OFFLINE=1 before any Hugging Face import)
# ---------------------------------------------------------------------------------------------------------------


def test_evaluate_module_loads_offline_and_matches_the_function(tmp_path):
    evaluate = pytest.importorskip("evaluate")
    metric = evaluate.load(
        str(REPO_ROOT / "metrics" / "dave_map"), cache_dir=str(tmp_path), keep_in_memory=True
    )
    predictions, ground_truth = random_case(6)
    # evaluate wants one prediction row per reference row: every ground-truth video, empty when unpredicted.
    predictions = {video: predictions.get(video, events([], [], [])) for video in ground_truth}
    kwargs = {"tiou_thresholds": [0.3, 0.5, 0.7], "num_classes": 6}
    result = metric.compute(
        predictions=[
            {"video_id": video, **{k: v.tolist() for k, v in e.items()}} for video, e in predictions.items()
        ],
        references=[
            {"video_id": video, **{k: v.tolist() for k, v in e.items()}} for video, e in ground_truth.items()
        ],
        **kwargs,
    )
    expected = mean_average_precision(predictions, ground_truth, **kwargs)
    assert 0 < result["average_mAP"] < 1
    assert result["average_mAP"] == expected["average_mAP"]
    assert result["mAP"] == expected["mAP"].tolist()
    assert result["tiou_thresholds"] == [0.3, 0.5, 0.7]
    assert result["class_ids"] == list(range(6))
    np.testing.assert_array_equal(np.array(result["per_class_AP"]), expected["per_class_AP"])
    row = {"video_id": "a", "segments": [[0.0, 1.0]], "labels": [0]}
    with pytest.raises(ValueError, match="twice"):
        metric.compute(predictions=[{**row, "scores": [0.5]}] * 2, references=[row, {**row, "video_id": "b"}])
