# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Times `loco_hf.evaluation` on a random input the size of the UnAV-100 test split.

2,167 videos, 5,900 ground-truth events over 100 classes, 100 predictions per video (what post-processing keeps).
Two layouts of the predictions:

* "uniform": labels drawn uniformly from the 100 classes, random segments (about one prediction per class and
  video, so the greedy matching needs few rounds);
* "clustered": what a trained model emits: most predictions are jittered copies of the video's events with their
  labels (many per class and video, up to 100, the worst case for the matching), the rest random.

Run: `python benchmarks/metric.py [--repeats 7] [--seed 0]`. Prints the median wall and CPU time of each
function.
"""

import argparse
import time

import numpy as np

from loco_hf.evaluation import average_precision_by_length, false_positive_breakdown, mean_average_precision

NUM_VIDEOS, NUM_EVENTS, NUM_CLASSES, PREDICTIONS_PER_VIDEO = 2167, 5900, 100, 100


def make_split(seed: int, layout: str) -> tuple[dict, dict]:
    """Random ground truth and predictions of test-split size (times in seconds, videos of 10 s to 60 s)."""
    rng = np.random.default_rng(seed)
    durations = rng.uniform(10.0, 60.0, NUM_VIDEOS)
    # Every video gets one event, the rest are spread at random.
    events_per_video = 1 + np.bincount(
        rng.integers(0, NUM_VIDEOS, NUM_EVENTS - NUM_VIDEOS), minlength=NUM_VIDEOS
    )
    ground_truth, predictions = {}, {}
    for index, (duration, num_events) in enumerate(zip(durations, events_per_video, strict=True)):
        video_id = f"video_{index:05d}"
        starts = rng.uniform(0.0, duration * 0.8, num_events)
        ends = np.minimum(starts + rng.exponential(duration / 4, num_events) + 0.2, duration)
        gt_segments = np.stack([starts, ends], axis=1)
        gt_labels = rng.integers(0, NUM_CLASSES, num_events)
        ground_truth[video_id] = {"segments": gt_segments, "labels": gt_labels}

        random_starts = rng.uniform(0.0, duration, PREDICTIONS_PER_VIDEO)
        segments = np.stack(
            [
                random_starts,
                np.minimum(random_starts + rng.exponential(duration / 4, PREDICTIONS_PER_VIDEO), duration),
            ],
            axis=1,
        )
        labels = rng.integers(0, NUM_CLASSES, PREDICTIONS_PER_VIDEO)
        if layout == "clustered":
            copies = int(PREDICTIONS_PER_VIDEO * 0.8)
            source = rng.integers(0, num_events, copies)
            jitter = rng.normal(0.0, 0.1, (copies, 2)) * (gt_segments[source, 1:] - gt_segments[source, :1])
            segments[:copies] = np.sort(np.clip(gt_segments[source] + jitter, 0.0, duration), axis=1)
            labels[:copies] = gt_labels[source]
        predictions[video_id] = {
            "segments": segments,
            "scores": rng.uniform(0.001, 1.0, PREDICTIONS_PER_VIDEO),
            "labels": labels,
        }
    return predictions, ground_truth


def median_seconds(function, repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (the latter is steadier on a shared machine)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)), float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=7, help="timed runs per function (the median is printed)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(
        f"{NUM_VIDEOS} videos, {NUM_EVENTS} events, {NUM_CLASSES} classes, "
        f"{NUM_VIDEOS * PREDICTIONS_PER_VIDEO} predictions; median of {args.repeats} runs"
    )
    for layout in ("uniform", "clustered"):
        predictions, ground_truth = make_split(args.seed, layout)
        result = mean_average_precision(predictions, ground_truth)
        timings = {
            "mean_average_precision": median_seconds(
                lambda p=predictions, g=ground_truth: mean_average_precision(p, g), args.repeats
            ),
            "average_precision_by_length": median_seconds(
                lambda p=predictions, g=ground_truth: average_precision_by_length(p, g), args.repeats
            ),
            "false_positive_breakdown": median_seconds(
                lambda p=predictions, g=ground_truth: false_positive_breakdown(p, g, top_k_per_gt=10),
                args.repeats,
            ),
        }
        print(f"[{layout}] average mAP {result['average_mAP']:.4f}")
        for name, (wall, cpu) in timings.items():
            print(f"  {name:<28} {wall * 1000:8.1f} ms wall {cpu * 1000:8.1f} ms CPU")


if __name__ == "__main__":
    main()
