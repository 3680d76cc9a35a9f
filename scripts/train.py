# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Train LoCo with Accelerate. With no arguments: the `small` preset on synthetic UnAV-style data, on a CPU.

    accelerate launch scripts/train.py
    accelerate launch scripts/train.py --preset unav100-i3d-vggish --dataset_dir path/to/unav100
    accelerate launch scripts/train.py --model_overrides '{"use_lcf": false, "use_lac": false}'
    accelerate launch --multi_gpu --num_processes 4 scripts/train.py --preset unav100-i3d-vggish --batch_size 4 ...
    accelerate launch scripts/train.py --resume_from_checkpoint latest
    accelerate launch scripts/train.py --push_to_hub --hub_model_id your-name/loco-small

Every option is a field of `loco_hf.training.TrainingConfig` (`--help` lists them); the run is
`loco_hf.training.train`. Outputs go to --output_dir (default outputs/): model.safetensors, config.json,
preprocessor_config.json, the model code, README.md (model card), metrics.json, test_predictions.json, logs/ and
checkpoints/.
"""

import logging
import sys

from transformers import HfArgumentParser

from loco_hf.training import TrainingConfig, format_summary, train


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    parser = HfArgumentParser(TrainingConfig, description=__doc__.split("\n")[0])
    (config,) = parser.parse_args_into_dataclasses(args=argv)
    summary = train(config)
    if summary:  # the main process
        print(format_summary(summary))
        print(f"Outputs in {config.output_dir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
