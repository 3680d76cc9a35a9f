# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Train-step throughput, peak memory and inference speed of a LoCo preset, on CPU or GPU, at users' lengths.

    python benchmarks/train_step.py                                  # small preset, CPU, float32
    python benchmarks/train_step.py --preset unav100-i3d-vggish --device cuda --dtype bf16
    python benchmarks/train_step.py --preset unav-baseline --batch_size 4 --steps 2 --profile
    python benchmarks/train_step.py --lengths max                    # the UnAV reference's 16 x 224 steps
    python benchmarks/train_step.py --padding max_length             # every batch padded to 224 steps, as UnAV
    python benchmarks/train_step.py --group_by_length                # batches of similar length: less padding
    python benchmarks/train_step.py --model_overrides '{"use_lcf": false, "use_lac": false,
        "cross_attention_query_source": "other_stream"}'          # the UnAV baseline, small size
    python benchmarks/train_step.py --threads 1 --steps 4 --rounds 30 --versus '{"use_lcf": false,
        "use_lac": false, "cross_attention_query_source": "other_stream"}'   # LoCo / baseline, batch by batch

A train step is `loco_hf.training.train_step` as the training loop runs it (forward and loss, backward, clipping,
AdamW with the recipe's parameter groups, cosine schedule, weight EMA) on batches collated and cropped by
`LocoDataCollator` exactly as in training (collation is timed apart). The videos carry the content and events of
synthetic videos with the preset's dims, stretched to lengths drawn from UnAV-100's training split
(`--lengths unav100`: T = floor((25 * duration - 24) / 8) + 1 over the annotation file's durations, shipped as
`unav100_train_lengths.csv` beside this script, or read from `--annotations`), or all `max_seq_len` steps long
(`--lengths max`). `--group_by_length` orders them with `LengthGroupedSampler` as training does with that option.

Inference is the pipeline (`AudioVisualEventLocalizationPipeline`: feature extractor, model in eval mode, decoding
and soft-NMS), for one video of median UnAV-100 length and for 16 videos of drawn lengths, run one by one and as one
batch (padded to its longest video). Prints milliseconds per step, videos per second, the peak memory of the train
steps (resident set size on CPU, `torch.cuda.max_memory_allocated` on GPU) and what the speed implies
for one UnAV-100 epoch (6,489 training videos) and the 45-epoch recipe. `--profile` adds torch.profiler's top
operators of two train steps, the operator calls per step and `torch.utils.flop_counter`'s FLOP count of one step:
figures that do not depend on the machine's load. `--versus` builds a second model (LocoConfig overrides) in the
same process and runs every timed batch through both, in turn, `--rounds` times: the ratio of their step times, which
load on a shared machine moves far less than either time alone (each batch's fastest step is the least disturbed).
"""

import argparse
import csv
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import send_to_device
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode
from transformers import get_scheduler

from loco_hf.configuration_loco import PRESETS, LocoConfig
from loco_hf.data import LengthGroupedSampler, LocoDataCollator
from loco_hf.feature_extraction_loco import LocoFeatureExtractor
from loco_hf.modeling_loco import LocoForEventLocalization
from loco_hf.pipeline_loco import AudioVisualEventLocalizationPipeline
from loco_hf.training import RECIPES, load_datasets, model_config_for_dataset, parameter_groups, train_step
from loco_hf.training.config import TrainingConfig, parse_model_overrides
from loco_hf.training.cpu_allocator import keep_freed_memory

UNAV100_TRAIN_VIDEOS = 6489
LENGTH_TABLE = Path(__file__).with_name("unav100_train_lengths.csv")
# Videos of drawn lengths run through the pipeline one by one and as one batch of this size.
INFERENCE_BATCH_SIZE = 16
# Videos whose lengths are drawn; the batches are the first ones of their (shuffled or length-grouped) order.
LENGTH_POOL = 800


def unav100_train_lengths(annotations: str | None) -> np.ndarray:
    """Feature steps of every UnAV-100 training video (I3D grid: 25 fps, stride 8, window 24 frames)."""
    if annotations:
        database = json.loads(Path(annotations).read_text())["database"]
        durations = [video["duration"] for video in database.values() if video["subset"] == "train"]
        return np.array([math.floor((25 * duration - 24) / 8) + 1 for duration in durations])
    with LENGTH_TABLE.open() as file:
        table = [(int(row["steps"]), int(row["videos"])) for row in csv.DictReader(file)]
    return np.repeat([steps for steps, _ in table], [videos for _, videos in table])


def stretched_row(row: dict, steps: int, config: LocoConfig) -> dict:
    """A synthetic row resampled (nearest step) to `steps` feature steps, its events scaled with its duration."""
    source_steps = min(len(row["visual_features"]), len(row["audio_features"]))
    index = np.arange(steps) * source_steps // steps
    duration = ((steps - 1) * config.feature_stride + config.feature_window) / config.fps
    scale = duration / float(row["duration"])
    return {
        **row,
        "duration": np.float32(duration),
        "visual_features": row["visual_features"][index],
        "audio_features": row["audio_features"][index],
        "segments": np.clip(np.asarray(row["segments"]) * scale, 0.0, duration),
    }


def synchronize(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function, device: torch.device, repeats: int, warmup: int, clock=time.perf_counter) -> list[float]:
    """Seconds per call of `function` (wall clock, or `clock`) over `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        function()
    durations = []
    for _ in range(repeats):
        synchronize(device)
        start = clock()
        function()
        synchronize(device)
        durations.append(clock() - start)
    return durations


def reset_peak_memory(device: torch.device):
    """Starts a new peak: CUDA's allocator statistics, or Linux's peak resident set size (VmHWM)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        Path("/proc/self/clear_refs").write_text("5")


def peak_memory_gib(device: torch.device) -> float:
    """Peak since `reset_peak_memory`: `max_memory_allocated` on CUDA, the process's peak RSS on CPU, in GiB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    status = Path("/proc/self/status").read_text()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    return kib / 2**20


def build_train_step(config: LocoConfig, accelerator: Accelerator, gradient_checkpointing: bool):
    """A fresh model in training mode with the recipe's AdamW, cosine schedule and EMA; returns it and a function
    running one `train_step` on a batch."""
    model = LocoForEventLocalization(config)
    if gradient_checkpointing:
        model.activation_checkpointing_enable()
    ema_model = AveragedModel(model, device=accelerator.device, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    optimizer = torch.optim.AdamW(parameter_groups(model, 1e-4), lr=1e-4)
    scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=10, num_training_steps=1000)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    model.train()

    def step_on(batch: dict):
        train_step(model, batch, optimizer, scheduler, accelerator, ema_model, 1.0)

    return model, step_on


def interleaved_step_times(
    steps: dict, batches: list, rounds: int, device: torch.device
) -> dict[str, np.ndarray]:
    """Seconds per train step, `(rounds, batches)` for each of `steps`: every batch is run by each model in turn,
    the order alternating from batch to batch, so that a change in the machine's load falls on all of them alike.
    On a CPU the clock is the process's CPU time (one thread: the step's work, whatever else the machine runs)."""
    clock = time.process_time if device.type == "cpu" else time.perf_counter
    names = list(steps)
    times = {name: np.zeros((rounds, len(batches))) for name in names}
    for round_index in range(rounds):
        for batch_index, batch in enumerate(batches):
            order = names if (round_index + batch_index) % 2 == 0 else names[::-1]
            for name in order:
                synchronize(device)
                start = clock()
                steps[name](batch)
                synchronize(device)
                times[name][round_index, batch_index] = clock() - start
    return times


def describe_interleaved(times: np.ndarray) -> str:
    """Median step and the mean over batches of each batch's fastest step (the least disturbed by other load)."""
    return (
        f"median {1000 * np.median(times):.1f} ms a step, per-batch minima {1000 * times.min(axis=0).mean():.1f} ms, "
        f"mean {1000 * times.mean():.1f} ms"
    )


def describe(name: str, durations: list[float], items: int, unit: str) -> str:
    median = statistics.median(durations)
    return (
        f"{name:<40} {1000 * median:9.1f} ms median ({1000 * min(durations):.1f}-{1000 * max(durations):.1f}), "
        f"mean {1000 * statistics.mean(durations):.1f}, {items / median:8.1f} {unit}/s"
    )


def print_profile(one_step, device: torch.device, steps: int = 2):
    """Top operators of `steps` train steps by self time, operator calls per step and FLOPs of one step."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as profiler:
        for _ in range(steps):
            one_step()
        synchronize(device)
    events = profiler.key_averages()
    sort_by = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(events.table(sort_by=sort_by, row_limit=25, max_name_column_width=48))
    aten_calls = sum(event.count for event in events if event.key.startswith("aten::"))
    print(f"aten operator calls per train step (all levels): {aten_calls / steps:.0f}")
    if device.type == "cuda":
        kernels = sum(event.count for event in events if event.device_type.name == "CUDA")
        print(f"CUDA kernels per train step: {kernels / steps:.0f}")
    with FlopCounterMode(display=False) as counter:
        one_step()
    print(f"FLOPs per train step (forward + backward): {counter.get_total_flops() / 1e9:.1f} GFLOP")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small", choices=sorted(PRESETS))
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="bf16: accelerate autocast")
    parser.add_argument("--batch_size", type=int, default=None, help="default: the preset's recipe (16)")
    parser.add_argument("--steps", type=int, default=10, help="timed train steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--lengths",
        default="unav100",
        choices=["unav100", "max"],
        help="video lengths: UnAV-100's, or max_seq_len",
    )
    parser.add_argument("--annotations", default=None, help="unav100_annotations.json to draw lengths from")
    parser.add_argument(
        "--padding",
        default=TrainingConfig.padding,
        choices=["max_length", "longest"],
        help=f"collator padding (training's default: {TrainingConfig.padding})",
    )
    parser.add_argument("--group_by_length", action="store_true", help="batches of similar length")
    parser.add_argument(
        "--model_overrides",
        default=None,
        help='JSON of LocoConfig fields, e.g. \'{"use_lcf": false, "use_lac": false, "cross_attention_query_source": '
        "\"other_stream\"}' for the UnAV baseline at the small preset's size",
    )
    parser.add_argument(
        "--gradient_checkpointing", action="store_true", help="recompute the attention and dependency blocks"
    )
    parser.add_argument(
        "--return_freed_memory",
        action="store_true",
        help="CPU: let glibc return large freed blocks to the kernel (training's keep_freed_cpu_memory=False)",
    )
    parser.add_argument(
        "--versus",
        default=None,
        help="JSON of LocoConfig fields of a second model, timed in the same process: each timed batch is run by "
        "both models in turn, the order alternating, and the ratio of their step times is printed (the UnAV "
        "baseline at the preset's size, as in --model_overrides' example); no inference",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --versus: times each timed batch is run by each model"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn lengths, order and crops")
    parser.add_argument("--skip_inference", action="store_true", help="time train steps only")
    parser.add_argument(
        "--profile", action="store_true", help="top operators, calls and FLOPs of a train step"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cpu" and not args.return_freed_memory:
        keep_freed_memory()  # as training does on a CPU (TrainingConfig.keep_freed_cpu_memory)
    batch_size = args.batch_size or RECIPES[args.preset]["batch_size"]
    accelerator = Accelerator(
        cpu=device.type == "cpu", mixed_precision="bf16" if args.dtype == "bf16" else "no"
    )

    # Videos with the preset's dims (the classes and grid follow the data, as in training), stretched to the lengths.
    preset = LocoConfig.from_preset(args.preset)
    data = load_datasets(None, 5 * batch_size, 0, preset)["train"].with_format("numpy")
    config = model_config_for_dataset(args.preset, parse_model_overrides(args.model_overrides), data)
    feature_extractor = LocoFeatureExtractor.from_model_config(config)
    sources = [data[index] for index in range(len(data))]
    generator = np.random.default_rng(args.seed)
    if args.lengths == "max":
        lengths = np.full(LENGTH_POOL, config.max_seq_len)
    else:
        lengths = generator.choice(unav100_train_lengths(args.annotations), LENGTH_POOL)
    if args.group_by_length:
        grouped = list(LengthGroupedSampler(lengths.tolist(), batch_size, seed=args.seed))
        # Whole batches in random order: the sampler puts the longest batch first, which a short run would overweight.
        starts = generator.permutation(range(0, LENGTH_POOL - batch_size + 1, batch_size))
        order = [index for start in starts for index in grouped[start : start + batch_size]]
    else:
        order = generator.permutation(LENGTH_POOL).tolist()
    num_batches = min(args.warmup + args.steps, LENGTH_POOL // batch_size)
    rows = [
        stretched_row(sources[index % len(sources)], int(lengths[index]), config)
        for index in order[: num_batches * batch_size]
    ]
    collate = LocoDataCollator(feature_extractor, training=True, padding=args.padding)
    torch.manual_seed(args.seed)
    batches = [collate(rows[start : start + batch_size]) for start in range(0, len(rows), batch_size)]
    collate_seconds = timed(lambda: collate(rows[:batch_size]), torch.device("cpu"), 3, 1)

    batches = [send_to_device(batch, accelerator.device) for batch in batches]
    model, step_on = build_train_step(config, accelerator, args.gradient_checkpointing)
    if args.versus:
        versus_config = model_config_for_dataset(args.preset, parse_model_overrides(args.versus), data)
        _, versus_step_on = build_train_step(versus_config, accelerator, args.gradient_checkpointing)
        timed_batches = batches[args.warmup :] or batches
        for step in (step_on, versus_step_on):
            for batch in batches[: args.warmup]:
                step(batch)
        times = interleaved_step_times(
            {"model": step_on, "versus": versus_step_on}, timed_batches, args.rounds, accelerator.device
        )
        print(
            f"preset {args.preset}, device {accelerator.device}, torch threads {torch.get_num_threads()}, batch "
            f"{batch_size}, {len(timed_batches)} batches x {args.rounds} rounds, each batch run by both models in "
            f"turn ({'CPU time of the process' if accelerator.device.type == 'cpu' else 'wall clock'} per step)"
        )
        for name, overrides in (("model", args.model_overrides), ("versus", args.versus)):
            print(f"{name:<8} {overrides or '(the preset)'}: {describe_interleaved(times[name])}")
        print(
            "ratio model / versus: "
            f"{times['model'].min(axis=0).sum() / times['versus'].min(axis=0).sum():.3f} (per-batch minima), "
            f"{np.median(times['model']) / np.median(times['versus']):.3f} (medians), "
            f"{times['model'].sum() / times['versus'].sum():.3f} (totals)"
        )
        return
    counter = iter(range(10**9))

    def one_step():
        step_on(batches[next(counter) % len(batches)])

    for _ in range(args.warmup):
        one_step()
    reset_peak_memory(accelerator.device)
    train_seconds = timed(one_step, accelerator.device, args.steps, 0)
    peak = peak_memory_gib(accelerator.device)
    # CPU seconds of the process (all threads): with one thread, the work of a step whatever else runs beside it.
    cpu_seconds = timed(one_step, accelerator.device, args.steps, 0, clock=time.process_time)
    padded = [batch["visual_features"].shape[1] for batch in batches]
    valid = [int(batch["attention_mask"].sum()) for batch in batches]

    parameters = sum(parameter.numel() for parameter in model.parameters())
    step = statistics.mean(train_seconds)
    epoch_steps = UNAV100_TRAIN_VIDEOS // batch_size
    print(
        f"preset {args.preset} ({parameters / 1e6:.2f} M parameters), device {accelerator.device}, {args.dtype}, "
        f"torch threads {torch.get_num_threads()}, batch {batch_size}, lengths {args.lengths}, padding "
        f"{args.padding}{', grouped by length' if args.group_by_length else ''}"
        + (", gradient checkpointing" if args.gradient_checkpointing else "")
        + (", freed memory returned to the kernel" if args.return_freed_memory else "")
        + (f", overrides {args.model_overrides}" if args.model_overrides else "")
    )
    print(
        f"padded steps per batch: mean {statistics.mean(padded):.0f} (min {min(padded)}, max {max(padded)}); "
        f"valid steps {sum(valid) / (batch_size * sum(padded)):.0%} of the padded"
    )
    print(describe("collate + crop (CPU)", collate_seconds, batch_size, "videos"))
    print(describe("train step", train_seconds, batch_size, "videos"))
    print(describe("train step, CPU time of the process", cpu_seconds, batch_size, "videos"))
    memory_kind = "max_memory_allocated" if accelerator.device.type == "cuda" else "peak RSS of the process"
    print(f"{'peak memory during the train steps':<40} {peak:9.2f} GiB ({memory_kind})")
    print(
        f"at this speed (mean step {step:.3f} s): a UnAV-100 epoch ({epoch_steps} steps) {epoch_steps * step / 60:.1f} "
        f"min of train steps, the 45-epoch recipe {45 * epoch_steps * step / 3600:.2f} h (plus loading, validation)"
    )
    if args.profile:
        print_profile(one_step, accelerator.device)

    if args.skip_inference:
        return
    # Inference through the pipeline, decoding included: one median-length video, and the drawn videos in batches.
    localizer = AudioVisualEventLocalizationPipeline(
        model=accelerator.unwrap_model(model).eval(),
        feature_extractor=feature_extractor,
        device=accelerator.device,
    )

    def pipeline_input(source: dict, steps: int) -> dict:
        row = stretched_row(source, steps, config)
        return {key: row[key] for key in ("visual_features", "audio_features", "duration")}

    median_row = pipeline_input(sources[0], int(np.median(lengths)))
    videos = [
        pipeline_input(sources[index % len(sources)], int(lengths[index]))
        for index in range(INFERENCE_BATCH_SIZE)  # drawn at random, not grouped
    ]

    def infer(videos: list[dict], inference_batch_size: int):
        with torch.no_grad(), accelerator.autocast():
            localizer(videos, threshold=0.0, batch_size=inference_batch_size)

    single = timed(lambda: infer([median_row], 1), accelerator.device, 5, 2)
    print(describe(f"inference, 1 video of {len(median_row['visual_features'])} steps", single, 1, "videos"))
    for inference_batch_size in (1, INFERENCE_BATCH_SIZE):
        seconds = timed(lambda size=inference_batch_size: infer(videos, size), accelerator.device, 2, 1)
        print(
            describe(
                f"inference, {len(videos)} videos, batch {inference_batch_size}",
                seconds,
                len(videos),
                "videos",
            )
        )


if __name__ == "__main__":
    main()
