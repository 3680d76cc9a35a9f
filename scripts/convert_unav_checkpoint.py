# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
r"""Convert a UnAV reference checkpoint (ttgeng233/UnAV, `*.pth.tar`) into a loco-hf model folder.

    python scripts/convert_unav_checkpoint.py --checkpoint path/to/unav.pth.tar --output_dir unav-baseline-converted
    python scripts/convert_unav_checkpoint.py --checkpoint unav.pth.tar --output_dir DIR --no_ema \
        --push_to_hub your-org/unav-baseline

The same command as `loco-hf convert` (`loco_hf.cli.convert_main`). The folder holds the weights (safetensors),
config, feature extractor, pipeline code and a model card; it loads with
`LocoForEventLocalization.from_pretrained(DIR)` or `transformers.pipeline(model=DIR, trust_remote_code=True)`.
The checkpoint is read with `torch.load(weights_only=True)`: no code stored in it ever runs. docs/conversion.md
lists the key table.
"""

import sys

from loco_hf.cli import convert_main

if __name__ == "__main__":
    sys.exit(convert_main())
