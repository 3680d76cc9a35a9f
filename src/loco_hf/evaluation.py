# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Detection metrics for dense audio-visual event localisation: mAP at temporal-IoU thresholds, and error analysis.

The protocol is the ActivityNet detection evaluator as the UnAV-100 code uses it (UnAV took it from ActionFormer,
which took it from EPIC-Kitchens). Everything here is a pure NumPy function over plain dicts keyed by video id, with
times in seconds:

* predictions: `{video_id: {"segments": (k, 2), "scores": (k,), "labels": (k,)}}`, which is what
  `LocoFeatureExtractor.post_process_event_localization` returns per video (extra keys such as "label_names" are
  ignored; NumPy arrays, lists and torch tensors are all accepted);
* ground truth: `{video_id: {"segments": (k, 2), "labels": (k,)}}`.

Protocol (ActivityNet, unchanged):

1. The classes are those present in the ground truth. Predictions of any other class are ignored.
2. Per class and per tIoU threshold, independently: the class's predictions over all videos are sorted by
   descending score. Each prediction whose video has no ground truth of that class is a false positive. Otherwise
   the ground-truth events of that class in that video are visited in descending tIoU order: a tIoU below the
   threshold makes the prediction a false positive and ends the walk; an event already matched at this threshold is
   skipped; the first event left makes the prediction a true positive and is locked. A tIoU equal to the threshold
   matches (`>=`).
3. Precision and recall (true positives over the class's number of events) accumulate down the ranking; the AP is
   the VOC-2011 all-point interpolated area: precision is made non-increasing from the right, then summed over the
   points where recall changes, weighted by the recall step. A class without predictions gets AP 0.
4. mAP at a threshold is the mean AP over the classes; the average mAP is the mean over the thresholds (UnAV averages
   all nine thresholds 0.1, 0.2, ..., 0.9).

Choices where the reference is silent or undefined, documented once here:

* **Ties.** The reference sorts with NumPy's default (unstable) sort, so its order among equal scores, and among
  ground-truth events of equal tIoU, depends on the NumPy build. Here both ties are broken by input order: the
  prediction listed first (dicts iterate in insertion order, then the order inside a video's arrays) ranks first,
  and the ground-truth event listed first is visited first. Sorts are stable (`kind="stable"`, a merge sort).
* **Predictions on videos absent from `ground_truth`** count as false positives, as in the reference, whose
  per-class lookup of the video's events fails and marks the prediction false. A warning names how many there are,
  since it usually means the predictions and the ground truth come from different splits. A video listed in
  `ground_truth` with no events is the same case without the warning.
* **Degenerate segments.** A pair of segments with zero union (two zero-length segments at one instant) has tIoU 0
  here; the reference divides 0 by 0 and gets NaN.

Speed: the greedy matching is sequential only within one (video, class) group, because ground-truth events are
locked per video. All groups therefore advance together, one rank at a time, with every threshold at once; the
number of Python iterations is the largest number of predictions of one class in one video (at most 100 with
UnAV's post-processing). `benchmarks/metric.py` times a test-split-sized input.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from transformers.utils import logging

__all__ = [
    "DEFAULT_LENGTH_BINS_SECONDS",
    "FALSE_POSITIVE_TYPES",
    "average_precision_by_length",
    "false_positive_breakdown",
    "mean_average_precision",
    "segment_iou",
]

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")

# Event-length buckets (seconds, half-open [low, high)) for `average_precision_by_length`.
DEFAULT_LENGTH_BINS_SECONDS = ((0.0, 2.0), (2.0, 10.0), (10.0, 30.0), (30.0, math.inf))

# False-positive types of `false_positive_breakdown`, in the order they are checked.
FALSE_POSITIVE_TYPES = ("duplicate", "wrong_class", "wrong_location", "confusion", "background")

# Below this tIoU with every event, a false positive is a background error (DETAD's `min_tiou_thr`).
_BACKGROUND_TIOU = 0.1


@dataclass
class _Events:
    """Events of many videos, concatenated.

    Attributes:
        video (`np.ndarray` of shape `(n,)`, int64): index of each event's video in the shared video list.
        segments (`np.ndarray` of shape `(n, 2)`, float64): (start, end) in seconds.
        labels (`np.ndarray` of shape `(n,)`, int64): class ids.
        scores (`np.ndarray` of shape `(n,)`, float64, or `None` for ground truth): confidence scores.
    """

    video: np.ndarray
    segments: np.ndarray
    labels: np.ndarray
    scores: np.ndarray | None


@dataclass
class _Matches:
    """Result of the greedy matching of `_match_events`.

    Attributes:
        order (`np.ndarray` of shape `(n,)`, int64): indices into the predictions, sorted by class row, then
            descending score, then input order. Predictions of classes outside `class_ids` are left out.
        class_index (`np.ndarray` of shape `(n,)`, int64): the class row (index into `class_ids`) of each.
        matched_gt (`np.ndarray` of shape `(n, num_thresholds)`, int64): index of the ground-truth event that
            each prediction matched at each threshold, or -1 for a false positive.
    """

    order: np.ndarray
    class_index: np.ndarray
    matched_gt: np.ndarray


# ---------------------------------------------------------------------------------------------------------------
# Input reading and validation
# ---------------------------------------------------------------------------------------------------------------


def _to_numpy(value) -> np.ndarray:
    # torch tensors (possibly on a GPU or requiring grad) without importing torch; everything else via asarray.
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _read_events(events, name: str, video_index: dict, with_scores: bool) -> _Events:
    """Validates and concatenates a `{video_id: {...}}` dict; new video ids are appended to `video_index`."""
    if not isinstance(events, Mapping):
        raise ValueError(
            f"`{name}` must be a dict mapping video ids to dicts of arrays, got {type(events).__name__}"
        )
    keys = ("segments", "scores", "labels") if with_scores else ("segments", "labels")
    video_rows, segments, labels, scores = [], [], [], []
    for video_id, entry in events.items():
        if not isinstance(entry, Mapping):
            raise ValueError(
                f"{name}[{video_id!r}] must be a dict with keys {keys}, got {type(entry).__name__}"
            )
        for key in keys:
            if key not in entry:
                raise ValueError(f"{name}[{video_id!r}] has no {key!r} field (expected keys {keys})")
        try:
            video_segments = _to_numpy(entry["segments"]).astype(np.float64, copy=False)
            video_labels = _to_numpy(entry["labels"])
            video_scores = _to_numpy(entry["scores"]).astype(np.float64, copy=False) if with_scores else None
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}[{video_id!r}] holds values that are not numbers: {error}") from None
        if video_segments.size == 0:
            # An empty list from JSON has shape (0,).
            video_segments = video_segments.reshape(0, 2)
        if video_segments.ndim != 2 or video_segments.shape[1] != 2:
            raise ValueError(
                f"{name}[{video_id!r}]['segments'] must have shape (num_events, 2), got {video_segments.shape}"
            )
        num_events = len(video_segments)
        video_labels = _check_labels(video_labels, num_events, name, video_id)
        if with_scores and video_scores.shape != (num_events,):
            raise ValueError(
                f"{name}[{video_id!r}]['scores'] must have shape ({num_events},) to match its segments, "
                f"got {video_scores.shape}"
            )
        video_rows.append((video_index.setdefault(video_id, len(video_index)), num_events))
        segments.append(video_segments)
        labels.append(video_labels)
        scores.append(video_scores)
    video, count = np.array(video_rows, dtype=np.int64).reshape(-1, 2).T
    result = _Events(
        video=np.repeat(video, count),
        segments=np.concatenate(segments) if segments else np.zeros((0, 2)),
        labels=np.concatenate(labels) if labels else np.zeros(0, np.int64),
        scores=(np.concatenate(scores) if scores else np.zeros(0)) if with_scores else None,
    )
    _check_values(result, name, list(video_index))
    return result


def _check_labels(labels: np.ndarray, num_events: int, name: str, video_id) -> np.ndarray:
    if labels.size == 0:
        labels = labels.reshape(0)
    if labels.shape != (num_events,):
        raise ValueError(
            f"{name}[{video_id!r}]['labels'] must have shape ({num_events},) to match its segments, got {labels.shape}"
        )
    if labels.dtype.kind in "iu":
        return labels.astype(np.int64, copy=False)
    if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
        return labels.astype(np.int64)
    raise ValueError(f"{name}[{video_id!r}]['labels'] must hold integer class ids, got {labels.tolist()[:5]}")


def _check_values(events: _Events, name: str, video_ids: list) -> None:
    """Raises a ValueError naming the first video with a non-finite or reversed segment, NaN score or bad label."""
    checks = [
        (~np.isfinite(events.segments).all(axis=1), "segments", "a non-finite time"),
        (events.segments[:, 1] < events.segments[:, 0], "segments", "an event that ends before it starts"),
        (events.labels < 0, "labels", "a negative class id"),
    ]
    if events.scores is not None:
        checks.append((~np.isfinite(events.scores), "scores", "a non-finite score"))
    for bad, field, problem in checks:
        if bad.any():
            row = int(np.argmax(bad))
            video_id = video_ids[events.video[row]]
            value = events.segments[row].tolist() if field == "segments" else getattr(events, field)[row]
            raise ValueError(f"{name}[{video_id!r}]['{field}'] holds {problem}: {value}")


def _read_inputs(predictions, ground_truth) -> tuple[_Events, _Events, list]:
    video_index: dict = {}
    gts = _read_events(ground_truth, "ground_truth", video_index, with_scores=False)
    num_gt_videos = len(video_index)
    preds = _read_events(predictions, "predictions", video_index, with_scores=True)
    video_ids = list(video_index)
    if len(video_ids) > num_gt_videos:
        extra = video_ids[num_gt_videos:]
        logger.warning(
            "%d of %d prediction videos are absent from ground_truth (e.g. %s); their %d predictions count as "
            "false positives, as in the ActivityNet evaluator",
            len(extra),
            len(predictions),
            extra[:3],
            int((preds.video >= num_gt_videos).sum()),
        )
    return preds, gts, video_ids


def _check_thresholds(tiou_thresholds) -> np.ndarray:
    if tiou_thresholds is None:
        # Same values as the reference's np.linspace, so a tIoU equal to a threshold compares identically.
        return np.linspace(0.1, 0.9, 9)
    thresholds = np.atleast_1d(np.asarray(tiou_thresholds, dtype=np.float64))
    if thresholds.ndim != 1 or thresholds.size == 0 or not np.all((thresholds > 0) & (thresholds <= 1)):
        raise ValueError(
            f"`tiou_thresholds` must be a non-empty list of values in (0, 1], got {tiou_thresholds}"
        )
    return thresholds


def _class_ids(gts: _Events, preds: _Events, num_classes: int | None, video_ids: list) -> np.ndarray:
    if gts.labels.size == 0:
        raise ValueError("`ground_truth` holds no events, so average precision is undefined")
    if num_classes is None:
        return np.unique(gts.labels)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"`num_classes` must be a positive integer, got {num_classes!r}")
    for events, name in ((gts, "ground_truth"), (preds, "predictions")):
        bad = events.labels >= num_classes
        if bad.any():
            row = int(np.argmax(bad))
            raise ValueError(
                f"{name}[{video_ids[events.video[row]]!r}]['labels'] holds class id {events.labels[row]}, "
                f"not below num_classes={num_classes}"
            )
    return np.arange(num_classes)


# ---------------------------------------------------------------------------------------------------------------
# Matching and average precision
# ---------------------------------------------------------------------------------------------------------------


def segment_iou(segments: np.ndarray, other_segments: np.ndarray) -> np.ndarray:
    """Temporal intersection over union of segments, broadcasting over the leading axes.

    Computed as the reference does (intersection clipped at 0, union = sum of lengths - intersection), so values
    are bit-identical to it; a zero union gives 0 instead of NaN.

    Args:
        segments (`np.ndarray` of shape `(..., 2)`): (start, end) times, seconds.
        other_segments (`np.ndarray` of shape `(..., 2)`, broadcastable against `segments`): (start, end), seconds.

    Returns:
        `np.ndarray` of the broadcast leading shape: tIoU in [0, 1].
    """
    segments = np.asarray(segments, dtype=np.float64)
    other_segments = np.asarray(other_segments, dtype=np.float64)
    intersection = np.clip(
        np.minimum(segments[..., 1], other_segments[..., 1])
        - np.maximum(segments[..., 0], other_segments[..., 0]),
        0.0,
        None,
    )
    union = (
        (other_segments[..., 1] - other_segments[..., 0]) + (segments[..., 1] - segments[..., 0])
    ) - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def _match_events(preds: _Events, gts: _Events, class_ids: np.ndarray, thresholds: np.ndarray) -> _Matches:
    """Greedy ActivityNet matching of predictions to ground truth, per class, per threshold (see module docstring).

    Groups are (class, video) pairs. Matching in one group never depends on another, so the predictions of all
    groups are processed together, one within-group rank at a time, with all thresholds at once.
    """
    num_classes, num_thresholds = len(class_ids), len(thresholds)
    num_videos = int(max(preds.video.max(initial=-1), gts.video.max(initial=-1))) + 1

    # Class row of each prediction; predictions of classes without a row are left out.
    pred_class = np.searchsorted(class_ids, preds.labels)
    known = (pred_class < num_classes) & (class_ids[np.minimum(pred_class, num_classes - 1)] == preds.labels)
    candidates = np.flatnonzero(known)
    # Sort by class, then descending score, then input order (two stable sorts).
    by_score = candidates[np.argsort(-preds.scores[candidates], kind="stable")]
    order = by_score[np.argsort(pred_class[by_score], kind="stable")]
    class_index = pred_class[order]
    matched_gt = np.full((len(order), num_thresholds), -1, dtype=np.int64)

    # Ground-truth groups: table (num_groups, max_events) of event indices in input order, padded with -1.
    gt_key = np.searchsorted(class_ids, gts.labels) * num_videos + gts.video
    gt_order = np.argsort(gt_key, kind="stable")
    group_keys, group_start, group_size = np.unique(gt_key[gt_order], return_index=True, return_counts=True)
    num_groups, max_events = len(group_keys), int(group_size.max())
    column = np.arange(len(gt_order)) - np.repeat(group_start, group_size)
    table = np.full((num_groups, max_events), -1, dtype=np.int64)
    table[np.repeat(np.arange(num_groups), group_size), column] = gt_order

    # Each sorted prediction's group; those without one stay false positives.
    pred_key = class_index * num_videos + preds.video[order]
    group = np.minimum(np.searchsorted(group_keys, pred_key), num_groups - 1)
    rows = np.flatnonzero(group_keys[group] == pred_key)  # (n,) positions in `order`
    if rows.size == 0:
        return _Matches(order=order, class_index=class_index, matched_gt=matched_gt)
    group = group[rows]
    events = table[group]  # (n, E)
    # (n, 1, 2) against (n, E, 2) -> (n, E); padding gets -inf so it never reaches a threshold.
    tiou = np.where(
        events >= 0, segment_iou(preds.segments[order[rows]][:, None, :], gts.segments[events]), -np.inf
    )

    # Rank of each prediction inside its group (score order is kept by the stable sort).
    by_group = np.argsort(group, kind="stable")
    sorted_group = group[by_group]
    first = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    rank = np.empty(len(rows), dtype=np.int64)
    rank[by_group] = np.arange(len(rows)) - np.repeat(first, np.diff(np.r_[first, len(rows)]))
    by_rank = np.argsort(rank, kind="stable")

    locked = np.zeros((num_groups, max_events, num_thresholds), dtype=bool)
    begin = 0
    for count in np.bincount(rank):
        # Predictions of one rank lie in distinct groups: none can see another's locks.
        batch = by_rank[begin : begin + count]
        begin += count
        batch_group = group[batch]
        batch_tiou = tiou[batch][:, :, None]  # (m, E, 1)
        eligible = (batch_tiou >= thresholds) & ~locked[batch_group]  # (m, E, K)
        # The walk in descending tIoU order stops at the first free event above the threshold: the eligible event
        # of highest tIoU, the earliest listed among equals (argmax returns the first maximum).
        best = np.argmax(np.where(eligible, batch_tiou, -np.inf), axis=1)  # (m, K)
        hit, hit_threshold = np.nonzero(eligible.any(axis=1))
        hit_column = best[hit, hit_threshold]
        locked[batch_group[hit], hit_column, hit_threshold] = True
        matched_gt[rows[batch[hit]], hit_threshold] = events[batch[hit], hit_column]
    return _Matches(order=order, class_index=class_index, matched_gt=matched_gt)


def _segmented_suffix_max(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Maximum of `values[j:]` within each run of equal `segment` (sorted ascending), exactly.

    Values are replaced by their integer rank and offset by the segment, so one `maximum.accumulate` over the
    reversed array never carries a maximum across a segment boundary.
    """
    if values.size == 0:
        return values
    unique, rank = np.unique(values, return_inverse=True)
    offset = (segment.max() - segment) * len(unique)  # increases along the reversed array
    running = np.maximum.accumulate((offset + rank)[::-1])[::-1]
    return unique[running - offset]


def _average_precision(
    class_index: np.ndarray,
    true_positive: np.ndarray,
    num_positives: np.ndarray,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """VOC-2011 all-point interpolated AP per class and threshold.

    Args:
        class_index (`np.ndarray` of shape `(n,)`): class row of each prediction, sorted ascending, predictions in
            ranking order inside each class.
        true_positive (`np.ndarray` of shape `(n, num_thresholds)`, bool): whether each prediction matched.
        num_positives (`np.ndarray` of shape `(num_classes,)`): number of ground-truth events per class row.
        keep (`np.ndarray` of shape `(n, num_thresholds)`, bool, *optional*): predictions to rank; the others are
            removed from the ranking (used by the per-length analysis).

    Returns:
        `np.ndarray` of shape `(num_classes, num_thresholds)`: AP; NaN for classes without ground truth.
    """
    num_classes, num_thresholds = len(num_positives), true_positive.shape[1]
    average_precision = np.zeros((num_classes, num_thresholds))
    npos = np.maximum(num_positives, 1).astype(np.float64)
    # (n, K) -> (K, n): one contiguous row per threshold.
    true_positive = np.ascontiguousarray(true_positive.T)
    keep = None if keep is None else np.ascontiguousarray(keep.T)
    for k in range(num_thresholds):
        selected = slice(None) if keep is None else keep[k]
        classes, hits = class_index[selected], true_positive[k][selected]
        count = np.bincount(classes, minlength=num_classes)
        class_start = np.cumsum(count) - count
        position = np.arange(len(classes)) - class_start[classes]  # 0-based rank inside the class
        cumulative = np.cumsum(hits)
        hits_so_far = cumulative - np.r_[0, cumulative][class_start[classes]]
        # Only true positives move recall, and the interpolated precision (maximum over later ranks) is always
        # reached at a true positive, so the AP sum only needs the true positives' precisions.
        precision = hits_so_far[hits] / (position[hits] + 1.0)
        hit_class, hit_count = classes[hits], hits_so_far[hits]
        interpolated = _segmented_suffix_max(precision, hit_class)
        recall_step = hit_count / npos[hit_class] - (hit_count - 1) / npos[hit_class]
        average_precision[:, k] = np.bincount(
            hit_class, weights=recall_step * interpolated, minlength=num_classes
        )
    average_precision[num_positives == 0] = np.nan
    return average_precision


def _mean_over_classes(per_class: np.ndarray) -> np.ndarray:
    present = ~np.isnan(per_class[:, 0])
    if not present.any():
        return np.full(per_class.shape[1], np.nan)
    return per_class[present].mean(axis=0)


# ---------------------------------------------------------------------------------------------------------------
# Public metrics
# ---------------------------------------------------------------------------------------------------------------


def mean_average_precision(
    predictions: Mapping,
    ground_truth: Mapping,
    tiou_thresholds: Sequence[float] | None = None,
    num_classes: int | None = None,
) -> dict:
    """Mean average precision at temporal-IoU thresholds (ActivityNet protocol, as in UnAV).

    See the module docstring for the protocol and its tie rules. Every prediction counts, including those on videos
    absent from `ground_truth` (false positives, with a warning).

    Args:
        predictions (`dict`): video id -> dict with "segments" (`(k, 2)`, seconds), "scores" (`(k,)`) and "labels"
            (`(k,)` int class ids). NumPy arrays, lists or torch tensors; other keys are ignored.
        ground_truth (`dict`): video id -> dict with "segments" (`(k, 2)`, seconds) and "labels" (`(k,)`). A video
            may have no events.
        tiou_thresholds (`list[float]`, *optional*): thresholds in (0, 1]; default 0.1, 0.2, ..., 0.9.
        num_classes (`int`, *optional*): when given, `per_class_AP` has one row per class id 0..num_classes-1 and
            labels must lie below it; rows of classes absent from the ground truth are NaN. The means always run
            over the classes present in the ground truth, as the reference does.

    Returns:
        `dict` with
        - "tiou_thresholds" (`list[float]`): the thresholds;
        - "mAP" (`np.ndarray` of shape `(num_thresholds,)`): mean AP over classes at each threshold;
        - "average_mAP" (`float`): mean of "mAP" over the thresholds;
        - "per_class_AP" (`np.ndarray` of shape `(num_rows, num_thresholds)`): AP per class and threshold;
        - "class_ids" (`np.ndarray` of shape `(num_rows,)`): the class id of each row (the sorted ids present in
          the ground truth, or 0..num_classes-1).

    Raises:
        ValueError: naming the video and field, for malformed input (segments not `(k, 2)`, non-finite times, an
            end before its start, lengths that disagree, non-integer or negative labels, non-finite scores), or
            when the ground truth holds no events.
    """
    thresholds = _check_thresholds(tiou_thresholds)
    preds, gts, video_ids = _read_inputs(predictions, ground_truth)
    class_ids = _class_ids(gts, preds, num_classes, video_ids)
    matches = _match_events(preds, gts, class_ids, thresholds)
    num_positives = np.bincount(np.searchsorted(class_ids, gts.labels), minlength=len(class_ids))
    per_class = _average_precision(matches.class_index, matches.matched_gt >= 0, num_positives)
    mean_ap = _mean_over_classes(per_class)
    return {
        "tiou_thresholds": thresholds.tolist(),
        "mAP": mean_ap,
        "average_mAP": float(mean_ap.mean()),
        "per_class_AP": per_class,
        "class_ids": class_ids,
    }


def average_precision_by_length(
    predictions: Mapping,
    ground_truth: Mapping,
    length_bins_seconds: Sequence[tuple[float, float]] = DEFAULT_LENGTH_BINS_SECONDS,
    tiou_thresholds: Sequence[float] | None = None,
) -> dict:
    """mAP restricted to ground-truth events of each length bucket (DETAD-style sensitivity analysis).

    Matching runs once against all ground truth, exactly as in `mean_average_precision`. Then, for a bucket and a
    threshold: the positives are the bucket's events; a prediction matched to one of them is a true positive; a
    prediction matched to an event of another bucket is removed from the ranking (it found a real event, so it is
    neither right nor wrong for this bucket); every unmatched prediction stays a false positive. This follows DETAD
    (Alwassel et al., ECCV 2018), with two differences: the removal is decided per threshold (DETAD removes a
    prediction from every threshold once it matches another bucket at any one), and the AP is the plain one, not
    DETAD's normalised AP_N, so the numbers compare with the headline mAP. The mean runs over the classes with at
    least one event in the bucket.

    Args:
        predictions (`dict`): as in `mean_average_precision`.
        ground_truth (`dict`): as in `mean_average_precision`.
        length_bins_seconds (`list[tuple[float, float]]`): half-open buckets [low, high) of event length, seconds;
            default (0, 2), (2, 10), (10, 30), (30, inf).
        tiou_thresholds (`list[float]`, *optional*): default 0.1, ..., 0.9.

    Returns:
        `dict` mapping each bucket label ("[low, high)", e.g. "[0, 2)", "[30, inf)") to a dict with "mAP"
        (`np.ndarray` of shape `(num_thresholds,)`), "average_mAP" (`float`) and "num_events" (`int`). A bucket
        without events has NaN mAPs.

    Raises:
        ValueError: for malformed input (see `mean_average_precision`) or a bucket with low >= high.
    """
    bins = _check_length_bins(length_bins_seconds)
    thresholds = _check_thresholds(tiou_thresholds)
    preds, gts, video_ids = _read_inputs(predictions, ground_truth)
    class_ids = _class_ids(gts, preds, None, video_ids)
    matches = _match_events(preds, gts, class_ids, thresholds)
    gt_class = np.searchsorted(class_ids, gts.labels)
    gt_length = gts.segments[:, 1] - gts.segments[:, 0]
    matched = matches.matched_gt >= 0

    results = {}
    for low, high in bins:
        in_bin = (gt_length >= low) & (gt_length < high)
        true_positive = matched & in_bin[np.maximum(matches.matched_gt, 0)]
        keep = ~matched | true_positive  # drop predictions matched to events of other buckets
        num_positives = np.bincount(gt_class[in_bin], minlength=len(class_ids))
        mean_ap = _mean_over_classes(
            _average_precision(matches.class_index, true_positive, num_positives, keep)
        )
        results[f"[{low:g}, {high:g})"] = {
            "mAP": mean_ap,
            "average_mAP": float(mean_ap.mean()),
            "num_events": int(in_bin.sum()),
        }
    return results


def _check_length_bins(length_bins_seconds) -> list[tuple[float, float]]:
    try:
        bins = [(float(low), float(high)) for low, high in length_bins_seconds]
    except (TypeError, ValueError):
        raise ValueError(
            f"`length_bins_seconds` must be a list of (low, high) pairs in seconds, got {length_bins_seconds!r}"
        ) from None
    if not bins or any(not low < high for low, high in bins):
        raise ValueError(
            f"`length_bins_seconds` needs non-empty buckets with low < high, got {length_bins_seconds!r}"
        )
    return bins


def false_positive_breakdown(
    predictions: Mapping, ground_truth: Mapping, tiou_threshold: float = 0.5, top_k_per_gt: int | None = 1
) -> dict:
    """Classifies the false positives among each class's top-ranked predictions (DETAD-style error analysis).

    For each class with ground truth, the top `top_k_per_gt * G` predictions by score are considered, G being the
    class's number of events (DETAD's "top-kG"; DETAD plots k = 1..10); predictions of classes without ground truth
    are not considered. They are matched as in `mean_average_precision` at `tiou_threshold`. Each false positive
    gets the first type that applies, in this order:

    - "duplicate": an event of its class has tIoU >= threshold (and was already matched by a higher score);
    - "wrong_class": an event of another class has tIoU >= threshold;
    - "wrong_location": an event of its class has 0.1 <= tIoU < threshold;
    - "confusion": an event of another class has 0.1 <= tIoU < threshold (DETAD's wrong class and location);
    - "background": tIoU < 0.1 with every event of its video.

    DETAD types a false positive by the single event of highest tIoU. Here the same-class checks come first at
    each tIoU level, because DAVE events of different classes overlap often (37 % of UnAV-100 events), so one
    segment can sit on events of two classes.

    Args:
        predictions (`dict`): as in `mean_average_precision`.
        ground_truth (`dict`): as in `mean_average_precision`.
        tiou_threshold (`float`): matching threshold in (0, 1].
        top_k_per_gt (`int`, *optional*): predictions considered per ground-truth event of the class; `None`
            considers every prediction.

    Returns:
        `dict` with "tiou_threshold" (`float`), "num_predictions" (considered), "num_true_positives",
        "num_false_positives" (`int`s), "counts" (`dict` type -> `int`) and "fractions" (`dict` type -> `float`,
        share of the false positives, all 0 when there are none). Types are those of `FALSE_POSITIVE_TYPES`.

    Raises:
        ValueError: for malformed input (see `mean_average_precision`) or a bad threshold or `top_k_per_gt`.
    """
    thresholds = _check_thresholds([tiou_threshold])
    if top_k_per_gt is not None and (
        isinstance(top_k_per_gt, bool) or not isinstance(top_k_per_gt, (int, np.integer)) or top_k_per_gt < 1
    ):
        raise ValueError(f"`top_k_per_gt` must be a positive integer or None, got {top_k_per_gt!r}")
    preds, gts, video_ids = _read_inputs(predictions, ground_truth)
    class_ids = _class_ids(gts, preds, None, video_ids)
    matches = _match_events(preds, gts, class_ids, thresholds)
    num_positives = np.bincount(np.searchsorted(class_ids, gts.labels), minlength=len(class_ids))

    considered = np.ones(len(matches.order), dtype=bool)
    if top_k_per_gt is not None:
        count = np.bincount(matches.class_index, minlength=len(class_ids))
        position = np.arange(len(matches.order)) - (np.cumsum(count) - count)[matches.class_index]
        considered = position < top_k_per_gt * num_positives[matches.class_index]
    true_positive = matches.matched_gt[:, 0] >= 0
    false_positive = matches.order[considered & ~true_positive]  # indices into the predictions

    # Every event of each false positive's video, any class: table (num_videos, max_events) padded with -1.
    num_videos = len(video_ids)
    per_video = np.bincount(gts.video, minlength=num_videos)
    gt_order = np.argsort(gts.video, kind="stable")
    table = np.full((num_videos, max(int(per_video.max()), 1)), -1, dtype=np.int64)
    table[
        gts.video[gt_order], np.arange(len(gt_order)) - np.repeat(np.cumsum(per_video) - per_video, per_video)
    ] = gt_order
    events = table[preds.video[false_positive]]  # (f, E)
    tiou = np.where(
        events >= 0, segment_iou(preds.segments[false_positive][:, None, :], gts.segments[events]), -np.inf
    )
    same_class = gts.labels[events] == preds.labels[false_positive][:, None]
    best_same = np.where(same_class, tiou, -np.inf).max(axis=1, initial=-np.inf)
    best_other = np.where(same_class, -np.inf, tiou).max(axis=1, initial=-np.inf)
    error_type = np.select(
        [
            best_same >= tiou_threshold,
            best_other >= tiou_threshold,
            best_same >= _BACKGROUND_TIOU,
            best_other >= _BACKGROUND_TIOU,
        ],
        [0, 1, 2, 3],
        default=4,
    )
    counts = np.bincount(error_type, minlength=len(FALSE_POSITIVE_TYPES))
    num_false_positives = len(false_positive)
    return {
        "tiou_threshold": float(tiou_threshold),
        "num_predictions": int(considered.sum()),
        "num_true_positives": int((considered & true_positive).sum()),
        "num_false_positives": num_false_positives,
        "counts": {name: int(n) for name, n in zip(FALSE_POSITIVE_TYPES, counts, strict=True)},
        "fractions": {
            name: float(n) / num_false_positives if num_false_positives else 0.0
            for name, n in zip(FALSE_POSITIVE_TYPES, counts, strict=True)
        },
    }
