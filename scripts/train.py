# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Train LoCo with Accelerate. With no arguments: the `small` preset on synthetic UnAV-style data, on a CPU.

    accelerate launch scripts/train.py
    accelerate launch scripts/train.py --preset unav100-i3d-vggish --dataset_dir path/to/unav100
    accelerate launch scripts/train.py --model_overrides '{"use_lcf": false, "use_lac": false}'
    accelerate launch --multi_gpu --num_processes 4 scripts/train.py --preset unav100-i3d-vggish --batch_size 4 ...
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 scripts/train.py   # 2 CPU processes
    accelerate launch scripts/train.py --resume_from_checkpoint latest
    accelerate launch scripts/train.py --push_to_hub --hub_model_id your-name/loco-small

The same command as `loco-hf train` (`loco_hf.cli.train_main`); every option is a field of
`loco_hf.training.TrainingConfig` (`--help` lists them). Outputs go to --output_dir (default outputs/):
model.safetensors, config.json, preprocessor_config.json, the model code, README.md (model card), metrics.json,
test_predictions.json, logs/ and checkpoints/. The test mAP table and the output folder are printed on stdout.
"""

import sys

from loco_hf.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
