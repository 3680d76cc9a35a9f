# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Localize audio-visual events in pre-extracted features with a LoCo checkpoint: `.npy` files in, JSON out.

    python scripts/predict.py path/to/checkpoint --visual clip_visual.npy --audio clip_audio.npy
    python scripts/predict.py your-org/loco-unav100 --visual a_v.npy b_v.npy --audio a_a.npy b_a.npy \
        --top_k 5 --output events.json --plot timeline.png

The same command as `loco-hf predict` (`loco_hf.cli.predict_main`); `--help` lists the options and the JSON format.
"""

import sys

from loco_hf.cli import predict_main

if __name__ == "__main__":
    sys.exit(predict_main())
