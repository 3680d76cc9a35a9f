"""Throughput of the data pipeline: synthetic generation and Arrow rows -> padded model batches.

Measures, on the CPU:
- synthetic generation: videos/s of `generate_synthetic_video` alone and of `synthetic_unav` (generation + Arrow
  writing);
- reading: rows/s of an Arrow dataset in "numpy" format through a torch DataLoader (no workers), alone and with
  `LocoDataCollator` (evaluation and training mode, which crops) to padded batches.

Run:
    python benchmarks/data.py --num-videos 1000 --batch-size 16
"""

import argparse
import tempfile
import time

import torch

from loco_hf.configuration_loco import LocoConfig
from loco_hf.data.collate import LocoDataCollator
from loco_hf.data.synthetic import SyntheticUnAVConfig, generate_synthetic_video, synthetic_unav
from loco_hf.feature_extraction_loco import LocoFeatureExtractor


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-videos", type=int, default=1000, help="synthetic videos (all splits)")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = []

    config = SyntheticUnAVConfig()
    seconds, _ = timed(lambda: [generate_synthetic_video(i, config) for i in range(args.num_videos)])
    rows.append(("generate_synthetic_video (numpy only)", args.num_videos / seconds, "videos/s"))

    with tempfile.TemporaryDirectory() as cache_dir:
        seconds, dataset = timed(lambda: synthetic_unav(args.num_videos, cache_dir=cache_dir))
        rows.append(("synthetic_unav (generation + Arrow)", args.num_videos / seconds, "videos/s"))
        train = dataset["train"].with_format("numpy")
        extractor = LocoFeatureExtractor.from_model_config(LocoConfig.from_preset("small"))

        def read(collate_fn):
            loader = torch.utils.data.DataLoader(train, batch_size=args.batch_size, collate_fn=collate_fn)
            return sum(1 for _ in loader)

        seconds, _ = timed(lambda: read(list))
        rows.append(
            (
                f"Arrow rows, DataLoader batch {args.batch_size}, no collation",
                train.num_rows / seconds,
                "rows/s",
            )
        )
        for training in (False, True):
            collator = LocoDataCollator(extractor, training=training)
            seconds, _ = timed(lambda collator=collator: read(collator))
            mode = "training (crop, pad 224)" if training else "evaluation (pad to 224 or stride multiple)"
            rows.append((f"Arrow rows -> LocoDataCollator, {mode}", train.num_rows / seconds, "rows/s"))

    print(
        f"{args.num_videos} synthetic videos ({train.num_rows} train rows), batch {args.batch_size}, torch threads {torch.get_num_threads()}"
    )
    print("| measurement | rate | unit |\n|---|---:|---|")
    for name, rate, unit in rows:
        print(f"| {name} | {rate:,.0f} | {unit} |")


if __name__ == "__main__":
    main()
