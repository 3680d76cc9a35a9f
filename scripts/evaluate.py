# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Evaluate a trained LoCo model on one split: mAP at tIoU 0.1 ... 0.9 and the average, per-class AP, error
analysis, and the predictions in the ActivityNet JSON format.

    python scripts/evaluate.py --model outputs --split test
    python scripts/evaluate.py --model your-name/loco-unav100 --dataset_dir path/to/unav100 --split test
    accelerate launch scripts/evaluate.py --model outputs          # several processes: each video counted once

The same command as `loco-hf evaluate` (`loco_hf.cli.evaluate_main`); options are the fields of
`loco_hf.training.EvaluationConfig` (`--help`). Results go to --output_dir (default <model>/evaluation/):
<split>_metrics.json, <split>_predictions.json and, with matplotlib, error-analysis and worst-video PNGs.
"""

import sys

from loco_hf.cli import evaluate_main

if __name__ == "__main__":
    sys.exit(evaluate_main())
