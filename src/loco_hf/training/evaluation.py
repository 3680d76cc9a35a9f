# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Evaluation of a saved model (folder or Hub id) on one split: the mAP table, per-class AP, AP by event length,
false positives by type, the predictions in the ActivityNet format and, with matplotlib, error-analysis plots.

    python scripts/evaluate.py --model outputs --split test  # or: loco-hf evaluate --model outputs
"""

from pathlib import Path

from accelerate import Accelerator
from transformers.utils import logging

from ..evaluation import average_precision_by_length, false_positive_breakdown
from ..feature_extraction_loco import LocoFeatureExtractor
from ..modeling_loco import LocoForEventLocalization
from .config import EvaluationConfig
from .data import dataset_model_fields, durations_of, evaluation_loader, ground_truth_of, load_datasets
from .loop import evaluate_model
from .metrics import TIOU_THRESHOLDS, compute_metrics, json_ready, to_activitynet, write_json

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")

__all__ = ["evaluate_checkpoint"]


def evaluate_checkpoint(config: EvaluationConfig) -> dict:
    """Evaluates a saved model (folder or Hub id) on one split and writes the results to the output folder.

    Writes `<split>_metrics.json` (mAP at tIoU 0.1 ... 0.9 and the average, per-class AP, AP by event length, false
    positives by type), `<split>_predictions.json` (ActivityNet format) and, with matplotlib, error-analysis and
    worst-video timeline PNGs.

    Returns:
        On the main process, the metrics dict (as in `<split>_metrics.json`) with "output_dir"; else {}.
    """
    accelerator = Accelerator(mixed_precision=config.mixed_precision)
    model = LocoForEventLocalization.from_pretrained(config.model)
    feature_extractor = LocoFeatureExtractor.from_pretrained(config.model)
    feature_extractor.check_model_config(
        model.config
    )  # the folder's two files describe the same grid and classes
    model_config = model.config
    with accelerator.main_process_first():
        dataset = load_datasets(
            config.dataset_dir, config.num_videos, config.data_seed, model_config, config.synthetic_clean
        )
    if config.split not in dataset:
        raise ValueError(f"The dataset has no {config.split!r} split (it has {list(dataset)}).")
    split = dataset[config.split]
    data_fields = dataset_model_fields(split)
    for name in ("visual_dim", "audio_dim", "id2label", "fps", "feature_stride", "feature_window"):
        if getattr(model_config, name) != data_fields[name]:
            raise ValueError(
                f"The model's {name} ({getattr(model_config, name)}) does not match the data's ({data_fields[name]})."
            )
    # A video's outputs do not depend on its padding, except a converted UnAV checkpoint's (reference_padding).
    padding = "max_length" if model_config.reference_padding else "longest"
    loader = evaluation_loader(split, feature_extractor, config.batch_size, padding)
    model, loader = accelerator.prepare(model, loader)
    predictions = evaluate_model(model, loader, feature_extractor, accelerator, config.split)
    if not accelerator.is_main_process:
        return {}

    if Path(config.model).is_dir():
        output_dir = Path(config.output_dir or Path(config.model) / "evaluation")
    else:
        output_dir = Path(config.output_dir or Path("evaluation") / config.model)
    output_dir.mkdir(parents=True, exist_ok=True)
    truth = ground_truth_of(split)
    metrics = compute_metrics(predictions, truth, model_config.id2label)
    metrics["by_length"] = json_ready(
        average_precision_by_length(predictions, truth, tiou_thresholds=TIOU_THRESHOLDS)
    )
    metrics["false_positives"] = json_ready(false_positive_breakdown(predictions, truth))
    write_json(output_dir / f"{config.split}_metrics.json", metrics)
    write_json(
        output_dir / f"{config.split}_predictions.json", to_activitynet(predictions, model_config.id2label)
    )
    if config.plots:
        try:
            from ..plotting import plot_error_analysis, plot_worst_videos

            plot_error_analysis(
                metrics["by_length"], metrics["false_positives"], output_dir / f"{config.split}_errors.png"
            )
            plot_worst_videos(
                predictions, truth, output_dir, durations=durations_of(split), id2label=model_config.id2label
            )
        except ImportError as error:
            logger.info(f"No plots ({error}).")
    return {**metrics, "output_dir": str(output_dir)}
