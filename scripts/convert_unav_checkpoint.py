# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
r"""Convert a UnAV reference checkpoint (ttgeng233/UnAV, `*.pth.tar`) into a loco-hf model folder.

    python scripts/convert_unav_checkpoint.py --checkpoint path/to/unav.pth.tar --output_dir unav-baseline-converted
    python scripts/convert_unav_checkpoint.py --checkpoint unav.pth.tar --output_dir DIR --no_ema \
        --push_to_hub your-org/unav-baseline

The folder holds the weights (safetensors), config, feature extractor, pipeline code and a model card; it loads
with `LocoForEventLocalization.from_pretrained(DIR)` or `transformers.pipeline(model=DIR, trust_remote_code=True)`.
The checkpoint is read with `torch.load(weights_only=True)`: no code stored in it ever runs. docs/conversion.md
lists the key table.
"""

import argparse
import sys

from loco_hf import convert_unav_checkpoint
from loco_hf.training import push_output_dir


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True, help="The UnAV checkpoint (*.pth.tar).")
    parser.add_argument("--output_dir", required=True, help="Folder to write the converted model to.")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument(
        "--use_ema",
        action="store_true",
        default=True,
        help="Convert the EMA weights (state_dict_ema), those UnAV evaluates (the default).",
    )
    weights.add_argument(
        "--no_ema", dest="use_ema", action="store_false", help="Convert the raw weights (state_dict) instead."
    )
    parser.add_argument(
        "--push_to_hub", metavar="REPO", help="Also upload the folder to this Hub model repo."
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    model = convert_unav_checkpoint(args.checkpoint, output_dir=args.output_dir, use_ema=args.use_ema)
    num_parameters = sum(parameter.numel() for parameter in model.parameters())
    print(f"Converted {args.checkpoint} ({num_parameters:,} parameters) to {args.output_dir}.")
    if args.push_to_hub:
        push_output_dir(args.output_dir, args.push_to_hub)
        print(f"Pushed {args.output_dir} to the Hub repo {args.push_to_hub}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
