# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Evaluate a trained LoCo model on one split: mAP at tIoU 0.1 ... 0.9 and the average, per-class AP, error
analysis, and the predictions in the ActivityNet JSON format.

    python scripts/evaluate.py --model outputs --split test
    python scripts/evaluate.py --model your-name/loco-unav100 --dataset_dir path/to/unav100 --split test
    accelerate launch scripts/evaluate.py --model outputs          # several processes: each video counted once

Options are the fields of `loco_hf.training.EvaluationConfig` (`--help`); the work is
`loco_hf.training.evaluate_checkpoint`. Results go to --output_dir (default <model>/evaluation/):
<split>_metrics.json, <split>_predictions.json and, with matplotlib, error-analysis and worst-video PNGs.
"""

import logging
import sys

from loco_hf.training import evaluate_main

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    sys.exit(evaluate_main())
