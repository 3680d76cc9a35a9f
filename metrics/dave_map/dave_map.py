# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""DAVE mAP: an `evaluate` module over `loco_hf.evaluation.mean_average_precision`.

Load it from a local path, offline: `evaluate.load("/abs/path/to/metrics/dave_map")`. It adapts inputs and outputs
only; the metric itself (ActivityNet protocol, as in UnAV-100) lives in `loco_hf.evaluation`.
"""

import datasets
import evaluate

from loco_hf.evaluation import mean_average_precision

_DESCRIPTION = """\
Mean average precision at temporal-IoU thresholds for dense audio-visual event localisation (DAVE), following the
ActivityNet detection protocol as used by UnAV-100: per class, predictions over all videos are ranked by score and
greedily matched to ground-truth events; AP is the VOC-2011 all-point interpolated area; mAP is the mean over the
classes present in the ground truth, and the average mAP the mean over the thresholds (default 0.1, 0.2, ..., 0.9).
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions (`list[dict]`): one dict per video with "video_id" (str), "segments" (list of [start, end] in
        seconds), "scores" (list of float) and "labels" (list of int class ids).
    references (`list[dict]`): one dict per video with "video_id", "segments" and "labels". Both lists must have the
        same length (an `evaluate` rule), so pass a video without predictions with empty lists. They are matched by
        "video_id", not by position; a video id may appear once in each list.
    tiou_thresholds (`list[float]`, *optional*): thresholds in (0, 1]; default 0.1, ..., 0.9.
    num_classes (`int`, *optional*): report one per-class row for every class id below it (NaN without ground
        truth); means still run over the classes present in the ground truth.

Returns:
    average_mAP (`float`), mAP (`list[float]`, one per threshold), tiou_thresholds (`list[float]`),
    per_class_AP (`list[list[float]]`, classes x thresholds) and class_ids (`list[int]`).

Examples:
    >>> dave_map = evaluate.load("metrics/dave_map")  # doctest: +SKIP
    >>> dave_map.compute(
    ...     predictions=[{"video_id": "v", "segments": [[1.0, 4.0]], "scores": [0.9], "labels": [3]}],
    ...     references=[{"video_id": "v", "segments": [[1.0, 4.0]], "labels": [3]}],
    ... )["average_mAP"]  # doctest: +SKIP
    1.0
"""

_CITATION = """\
@inproceedings{geng2023dense,
  title={Dense-Localizing Audio-Visual Events in Untrimmed Videos: A Large-Scale Benchmark and Baseline},
  author={Geng, Tiantian and Wang, Teng and Duan, Jinming and Cong, Runmin and Zheng, Feng},
  booktitle={CVPR},
  year={2023}
}
"""

_SEGMENTS = datasets.List(datasets.List(datasets.Value("float64"), length=2))


class DaveMap(evaluate.Metric):
    """mAP at tIoU thresholds over per-video predictions and references (see `_KWARGS_DESCRIPTION`)."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            # float64 keeps times as given, so the result equals a direct call of mean_average_precision.
            features=datasets.Features(
                {
                    "predictions": {
                        "video_id": datasets.Value("string"),
                        "segments": _SEGMENTS,
                        "scores": datasets.List(datasets.Value("float64")),
                        "labels": datasets.List(datasets.Value("int64")),
                    },
                    "references": {
                        "video_id": datasets.Value("string"),
                        "segments": _SEGMENTS,
                        "labels": datasets.List(datasets.Value("int64")),
                    },
                }
            ),
        )

    def _compute(self, predictions, references, tiou_thresholds=None, num_classes=None) -> dict:
        result = mean_average_precision(
            _by_video(predictions, "predictions", ("segments", "scores", "labels")),
            _by_video(references, "references", ("segments", "labels")),
            tiou_thresholds=tiou_thresholds,
            num_classes=num_classes,
        )
        return {
            "average_mAP": result["average_mAP"],
            "mAP": result["mAP"].tolist(),
            "tiou_thresholds": result["tiou_thresholds"],
            "per_class_AP": result["per_class_AP"].tolist(),
            "class_ids": result["class_ids"].tolist(),
        }


def _by_video(rows: list[dict], name: str, keys: tuple[str, ...]) -> dict:
    """[{"video_id": ..., key: ...}] -> {video_id: {key: ...}}, refusing a video id given twice."""
    by_video = {}
    for row in rows:
        video_id = row["video_id"]
        if video_id in by_video:
            raise ValueError(
                f"{name} lists video {video_id!r} twice; give each video once, with all its events"
            )
        by_video[video_id] = {key: row[key] for key in keys}
    return by_video
