"""Times `LocoFeatureExtractor.post_process_event_localization` per video on UnAV-100-sized outputs.

UnAV-100 sizes: 100 classes, a 224-step input and 6 levels (strides 1 to 32), so 441 points. Logits are random
normal, so almost every (point, class) pair passes the 0.001 pre-NMS threshold: each level hits its top-2000 cap
where it can (about 10,100 candidates per video) and soft-NMS always runs its full 100 steps, the worst case.

    python benchmarks/postprocess.py [--batch-size 16] [--repeats 20] [--device cpu]

Prints the median time per video over the repeats (each repeat post-processes one batch).
"""

import argparse
import statistics
import time
from types import SimpleNamespace

import torch

from loco_hf.configuration_loco import LocoConfig
from loco_hf.feature_extraction_loco import LocoFeatureExtractor


def random_outputs(batch_size: int, config: LocoConfig, device: str) -> SimpleNamespace:
    """Model-shaped outputs with random logits and offsets: the attributes post-processing reads."""
    strides = config.pyramid_strides
    positions = torch.cat([torch.arange(0, config.max_seq_len, s, dtype=torch.float32) for s in strides])
    point_strides = torch.cat([torch.full((config.max_seq_len // s,), float(s)) for s in strides])
    num_points = len(positions)
    return SimpleNamespace(
        logits=torch.randn(batch_size, num_points, config.num_labels, device=device),
        segment_offsets=torch.rand(batch_size, num_points, config.num_labels, 2, device=device) * 4,
        point_positions=positions.to(device),
        point_strides=point_strides.to(device),
        point_mask=torch.ones(batch_size, num_points, dtype=torch.bool, device=device),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    config = LocoConfig()  # UnAV-100: 100 classes, max_seq_len 224, 6 levels
    extractor = LocoFeatureExtractor.from_model_config(config)
    outputs = random_outputs(args.batch_size, config, args.device)
    durations = [60.0] * args.batch_size

    def synchronize():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    results = extractor.post_process_event_localization(outputs, durations)  # warm-up
    timings = []
    for _ in range(args.repeats):
        synchronize()
        start = time.perf_counter()
        results = extractor.post_process_event_localization(outputs, durations)
        synchronize()
        timings.append(time.perf_counter() - start)

    median = statistics.median(timings)
    kept = sum(len(result["scores"]) for result in results) / len(results)
    print(
        f"post-processing, {args.device}, {torch.get_num_threads()} threads: {len(outputs.point_positions)} points x "
        f"{config.num_labels} classes, batch {args.batch_size}, {kept:.0f} events kept per video"
    )
    print(
        f"median over {args.repeats} repeats: {1e3 * median:.2f} ms per batch, {1e3 * median / args.batch_size:.2f} ms per video"
    )


if __name__ == "__main__":
    main()
