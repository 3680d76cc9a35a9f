# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""The metrics of a split (mAP at tIoU 0.1 ... 0.9 and per-class AP, through `loco_hf.evaluation`), their text
forms, the ActivityNet prediction format, and JSON writing of results."""

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ..evaluation import mean_average_precision

__all__ = [
    "TIOU_THRESHOLDS",
    "compute_metrics",
    "flat_metrics",
    "format_map_table",
    "format_summary",
    "json_ready",
    "json_scalar",
    "to_activitynet",
    "write_json",
]

TIOU_THRESHOLDS = [round(0.1 * i, 1) for i in range(1, 10)]


def compute_metrics(predictions: Mapping, ground_truth: Mapping, id2label: Mapping) -> dict:
    """The mAP table and per-class AP of a split, JSON-ready.

    Returns:
        `dict` with "mAP" ({"0.1": float, ..., "0.9": float}), "average_mAP" (float) and "per_class_AP"
        ({class name: {"0.1": ..., "0.9": ..., "average": ...}}, `None` for classes absent from the split).
    """
    result = mean_average_precision(predictions, ground_truth, TIOU_THRESHOLDS, num_classes=len(id2label))
    keys = [f"{threshold:.1f}" for threshold in result["tiou_thresholds"]]
    per_class = {}
    for class_id, row in zip(result["class_ids"].tolist(), result["per_class_AP"], strict=True):
        name = id2label[int(class_id)]
        values = [None if math.isnan(value) else float(value) for value in row.tolist()]
        average = None if None in values else float(np.mean(values))
        per_class[name] = {**dict(zip(keys, values, strict=True)), "average": average}
    return {
        "mAP": dict(zip(keys, (float(value) for value in result["mAP"]), strict=True)),
        "average_mAP": float(result["average_mAP"]),
        "per_class_AP": per_class,
    }


def flat_metrics(metrics: Mapping, prefix: str) -> dict[str, float]:
    """{"<prefix>/mAP@0.5": ..., "<prefix>/average_mAP": ...} for logging and the returned summary."""
    flat = {f"{prefix}/mAP@{key}": value for key, value in metrics["mAP"].items()}
    flat[f"{prefix}/average_mAP"] = metrics["average_mAP"]
    return flat


def format_map_table(metrics: Mapping, title: str = "") -> str:
    """A markdown table of mAP at each tIoU threshold and the average, in percent."""
    keys = list(metrics["mAP"])
    header = "| " + " | ".join([*keys, "average"]) + " |"
    rule = "|" + "---|" * (len(keys) + 1)
    values = "| " + " | ".join(f"{100 * metrics['mAP'][key]:.2f}" for key in keys)
    values += f" | {100 * metrics['average_mAP']:.2f} |"
    lines = ([title] if title else []) + [header, rule, values]
    return "\n".join(lines)


def format_summary(summary: Mapping) -> str:
    """The summary returned by `train` as text: the test mAP table (when there is one) and the selection."""
    lines = []
    thresholds = [key.split("@", 1)[1] for key in summary if key.startswith("test/mAP@")]
    if thresholds:
        table = {"mAP": {key: summary[f"test/mAP@{key}"] for key in thresholds}}
        lines.append(format_map_table({**table, "average_mAP": summary["test/average_mAP"]}, "Test mAP (%)"))
    if summary.get("validation/average_mAP") is not None:
        lines.append(
            f"Selected epoch {summary['best_epoch']} (validation average mAP "
            f"{100 * summary['validation/average_mAP']:.2f}), {summary['global_step']} optimizer steps."
        )
    return "\n".join(lines)


def to_activitynet(predictions: Mapping, id2label: Mapping) -> dict:
    """Predictions in the ActivityNet result format: {"version", "results": {video_id: [{"label", "score",
    "segment": [start, end]}]}, "external_data": {}}, times in seconds."""
    results = {}
    for video_id, video in predictions.items():
        results[video_id] = [
            {"label": id2label[int(label)], "score": float(score), "segment": [float(start), float(end)]}
            for (start, end), score, label in zip(
                np.asarray(video["segments"]).reshape(-1, 2).tolist(),
                np.asarray(video["scores"]).tolist(),
                np.asarray(video["labels"]).tolist(),
                strict=True,
            )
        ]
    return {"version": "VERSION 1.3", "results": results, "external_data": {}}


def write_json(path: Path, payload) -> None:
    """Writes JSON atomically (temporary file, then rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(payload, indent=2, default=json_scalar) + "\n")
    os.replace(temporary, path)


def json_scalar(value):
    """JSON fallback for tensors, NumPy scalars and arrays."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return str(value)


def json_ready(value):
    """Nested dicts and lists with NumPy values -> plain Python (NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_ready(item) for item in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
