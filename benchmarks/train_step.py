# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Train-step throughput and inference latency of a LoCo preset, on CPU or GPU.

    python benchmarks/train_step.py                                  # small preset, CPU, float32
    python benchmarks/train_step.py --preset unav100-i3d-vggish --device cuda --dtype bf16

A train step is `loco_hf.training.train_step` as the training loop runs it (forward and loss, backward, clipping,
AdamW with the recipe's parameter groups, cosine schedule, weight EMA) on batches of synthetic videos with the
preset's dims, collated and cropped by `LocoDataCollator` exactly as in training (collation is timed apart).
Inference is the EMA-free model in eval mode plus `post_process_event_localization`, for one video of median
UnAV-100 length (43.9 s, 134 steps) and for a batch. Prints milliseconds per step and videos per second, and what
they imply for one UnAV-100 epoch (6,489 training videos) and for the 45-epoch recipe.
"""

import argparse
import statistics
import time

import torch
from accelerate import Accelerator
from accelerate.utils import send_to_device
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from transformers import get_scheduler

from loco_hf.configuration_loco import PRESETS, LocoConfig
from loco_hf.data import LocoDataCollator
from loco_hf.feature_extraction_loco import LocoFeatureExtractor
from loco_hf.modeling_loco import LocoForEventLocalization
from loco_hf.training import RECIPES, load_datasets, model_config_for_dataset, parameter_groups, train_step

UNAV100_TRAIN_VIDEOS = 6489
MEDIAN_UNAV100_DURATION_SECONDS = 43.9


def synchronize(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function, device: torch.device, repeats: int, warmup: int) -> list[float]:
    """Seconds per call of `function` over `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        function()
    durations = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        function()
        synchronize(device)
        durations.append(time.perf_counter() - start)
    return durations


def describe(name: str, durations: list[float], items: int, unit: str) -> str:
    median = statistics.median(durations)
    return (
        f"{name:<34} {1000 * median:9.1f} ms median ({1000 * min(durations):.1f}-{1000 * max(durations):.1f}), "
        f"{items / median:8.1f} {unit}/s"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small", choices=sorted(PRESETS))
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="bf16: accelerate autocast")
    parser.add_argument("--batch_size", type=int, default=None, help="default: the preset's recipe (16)")
    parser.add_argument("--steps", type=int, default=10, help="timed train steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batch_size = args.batch_size or RECIPES[args.preset]["batch_size"]
    accelerator = Accelerator(
        cpu=device.type == "cpu", mixed_precision="bf16" if args.dtype == "bf16" else "no"
    )

    # Videos with the preset's dims (the classes and grid follow the data, as in training).
    preset = LocoConfig.from_preset(args.preset)
    data = load_datasets(None, 5 * batch_size, 0, preset)["train"].with_format("numpy")
    config = model_config_for_dataset(args.preset, {}, data)
    feature_extractor = LocoFeatureExtractor.from_model_config(config)
    rows = [data[index] for index in range(len(data))]
    collate = LocoDataCollator(feature_extractor, training=True)
    batches = [
        collate(rows[start : start + batch_size])
        for start in range(0, len(rows) - batch_size + 1, batch_size)
    ]
    collate_seconds = timed(lambda: collate(rows[:batch_size]), torch.device("cpu"), 3, 1)

    model = LocoForEventLocalization(config)
    ema_model = AveragedModel(model, device=accelerator.device, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    optimizer = torch.optim.AdamW(parameter_groups(model, 1e-4), lr=1e-4)
    scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=10, num_training_steps=1000)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    batches = [send_to_device(batch, accelerator.device) for batch in batches]
    counter = iter(range(10**9))

    def one_step():
        batch = batches[next(counter) % len(batches)]
        train_step(model, batch, optimizer, scheduler, accelerator, ema_model, 1.0)

    model.train()
    train_seconds = timed(one_step, accelerator.device, args.steps, args.warmup)

    # Inference: one median-length video, and a batch of them, decoded.
    evaluator = accelerator.unwrap_model(model).eval()
    steps = (
        int((MEDIAN_UNAV100_DURATION_SECONDS * config.fps - config.feature_window) // config.feature_stride)
        + 1
    )
    generator = torch.Generator().manual_seed(0)
    visual = torch.randn(steps, config.visual_dim, generator=generator)
    audio = torch.randn(steps, config.audio_dim, generator=generator)

    def infer(count: int):
        inputs = feature_extractor([visual] * count, [audio] * count, return_tensors="pt").to(
            accelerator.device
        )
        with torch.no_grad(), accelerator.autocast():
            outputs = evaluator(**inputs)
        feature_extractor.post_process_event_localization(outputs, [MEDIAN_UNAV100_DURATION_SECONDS] * count)

    single = timed(lambda: infer(1), accelerator.device, 5, 2)
    batched = timed(lambda: infer(batch_size), accelerator.device, 3, 1)

    parameters = sum(parameter.numel() for parameter in evaluator.parameters())
    step = statistics.median(train_seconds)
    epoch_steps = UNAV100_TRAIN_VIDEOS // batch_size
    print(
        f"preset {args.preset} ({parameters / 1e6:.2f} M parameters), device {accelerator.device}, {args.dtype}, "
        f"torch threads {torch.get_num_threads()}, batch {batch_size} x {config.max_seq_len} steps"
    )
    print(describe("collate + crop (CPU)", collate_seconds, batch_size, "videos"))
    print(describe("train step", train_seconds, batch_size, "videos"))
    print(describe(f"inference, 1 video of {steps} steps", single, 1, "videos"))
    print(describe(f"inference, {batch_size} videos", batched, batch_size, "videos"))
    print(
        f"at this speed: a UnAV-100 epoch ({epoch_steps} steps) {epoch_steps * step / 60:.1f} min of train steps, "
        f"the 45-epoch recipe {45 * epoch_steps * step / 3600:.2f} h (plus data loading and validation)"
    )


if __name__ == "__main__":
    main()
