"""Memory and time of inference on long videos: sliding windows against one pass over the whole video.

The `small` preset (random weights, seed 0) localizes one video of 1, 5 and 20 times `max_seq_len` steps (224, 1,120
and 4,480 steps: 72 s, 6 min and 24 min of UnAV-100 features), through `LocoFeatureExtractor.forward_in_windows`
and `post_process_event_localization`, as the pipeline, the CLI and the evaluation do. Each measurement runs in a
fresh process, so its peak resident memory (RSS) is its own; "model only" is the peak of a process that built the
model and the features and ran nothing.

    python benchmarks/long_video.py [--multiples 1 5 20] [--threads 1] [--whole]

`--whole` also measures `sliding_window=False` (the whole video through dense attention at once: memory and time
grow with the square of its length).
"""

import argparse
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from loco_hf import LocoConfig, LocoFeatureExtractor, LocoForEventLocalization


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(multiple: int, sliding_window: bool, run: bool) -> str:
    """Localizes one random video of `multiple` x max_seq_len steps; returns 'seconds peak_rss_mib'."""
    torch.manual_seed(0)
    config = LocoConfig.from_preset("small")
    model = LocoForEventLocalization(config).eval()
    extractor = LocoFeatureExtractor.from_model_config(config, sliding_window=sliding_window)
    generator = np.random.default_rng(0)
    num_steps = multiple * config.max_seq_len
    visual = generator.standard_normal((num_steps, config.visual_dim), dtype=np.float32)
    audio = generator.standard_normal((num_steps, config.audio_dim), dtype=np.float32)
    inputs = extractor(visual, audio, return_tensors="pt")
    start = time.perf_counter()
    if run:
        with torch.no_grad():
            outputs = extractor.forward_in_windows(model, inputs)
            extractor.post_process_event_localization(outputs, [float(extractor.steps_to_seconds(num_steps))])
    return f"{time.perf_counter() - start:.2f} {peak_rss_mib():.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--multiples", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (more spin-wait on a shared machine)"
    )
    parser.add_argument("--whole", action="store_true", help="also measure one pass over the whole video")
    parser.add_argument("--child", nargs=3, metavar=("MULTIPLE", "WINDOWED", "RUN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.child:
        multiple, windowed, run = (int(value) for value in args.child)
        print(measure(multiple, bool(windowed), bool(run)))
        return

    def child(multiple: int, windowed: bool, run: bool) -> tuple[float, float]:
        command = [sys.executable, __file__, "--threads", str(args.threads), "--child", str(multiple)]
        output = subprocess.run(
            [*command, str(int(windowed)), str(int(run))], capture_output=True, text=True, check=True
        )
        seconds, rss = output.stdout.split()
        return float(seconds), float(rss)

    print(f"small preset, max_seq_len 224, {args.threads} threads")
    print(f"{'video':>22} | {'mode':>15} | {'time':>8} | {'peak RSS':>9} | {'model only':>10}")
    for multiple in args.multiples:
        modes = (
            [("sliding windows", True), ("whole video", False)] if args.whole else [("sliding windows", True)]
        )
        for name, windowed in modes:
            _, base_rss = child(multiple, windowed, run=False)
            seconds, rss = child(multiple, windowed, run=True)
            video = f"{multiple}x ({multiple * 224} steps)"
            print(f"{video:>22} | {name:>15} | {seconds:>6.2f} s | {rss:>5.0f} MiB | {base_rss:>6.0f} MiB")


if __name__ == "__main__":
    main()
