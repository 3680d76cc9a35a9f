# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""The LoCo ablation grid on the default synthetic data: UnAV baseline, LCF only, LAC only, full LoCo.

    python benchmarks/ablations.py --jobs 2 --output docs/ablations.md            # 4 variants x 3 seeds, CPU
    python benchmarks/ablations.py --jobs 2 --clean --work_dir outputs/ablations_clean  # on clean data
    python benchmarks/ablations.py --model_overrides '{"lcf_loss_weight": 0.0}'    # a formulation, all variants
    python benchmarks/ablations.py --jobs 16 --epochs 15 --work_dir outputs/ablations_long  # a longer budget

Run it on CPUs, one job per core: the `small` model is bound by kernel launches, and processes sharing one GPU
(`--device cuda`) ran slower than CPU cores (benchmarks/RESULTS.md).

Every run is `loco_hf.training.train` with the `small` preset and the default recipe and data (the same videos for
every run: the data seed is fixed), identical except for the model switches; training seed s is shared by the
four variants, so each seed gives a paired comparison with the baseline. Prints the table of test average mAP and
mAP at tIoU 0.5 / 0.7 / 0.9 (mean and standard deviation over seeds) and the per-seed differences from the
baseline; `--output` writes it into a markdown file (between the ablations markers, creating the file if needed).
Runs go to separate processes, `--jobs` at a time, each with `cpu_count // jobs` torch threads.
"""

import argparse
import json
import os
import shlex
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

# The UnAV baseline: both LoCo modules off and UnAV's cross-attention queries (from the other stream). The
# single-module variants keep LoCo's query convention (from the stream being updated), as full LoCo does.
VARIANTS = {
    "UnAV baseline": {"use_lcf": False, "use_lac": False, "cross_attention_query_source": "other_stream"},
    "LCF only": {"use_lcf": True, "use_lac": False, "cross_attention_query_source": "updated_stream"},
    "LAC only": {"use_lcf": False, "use_lac": True, "cross_attention_query_source": "updated_stream"},
    "LoCo (LCF + LAC)": {"use_lcf": True, "use_lac": True, "cross_attention_query_source": "updated_stream"},
}
BASELINE = "UnAV baseline"
REPORTED = ("average_mAP", "mAP@0.5", "mAP@0.7", "mAP@0.9")
START_MARKER = "<!-- ablations:start -->"
END_MARKER = "<!-- ablations:end -->"


def run_one(variant: str, seed: int, options: dict) -> dict:
    """One training run in this (worker) process; returns its test metrics."""
    import torch

    torch.set_num_threads(options["threads"])  # on a GPU too: evaluation and post-processing run on the CPU
    from loco_hf.training import TrainingConfig, train

    config = TrainingConfig(
        preset="small",
        model_overrides=json.dumps({**options["model_overrides"], **VARIANTS[variant]}),
        seed=seed,
        cpu_threads=options["threads"],
        output_dir=str(
            Path(options["work_dir"]) / variant.split(" (")[0].replace(" ", "_").lower() / f"seed{seed}"
        ),
        **{
            name: options[name]
            for name in ("num_epochs", "num_videos", "batch_size", "synthetic_clean")
            if options[name] is not None
        },
    )
    summary = train(config)
    return {"variant": variant, "seed": seed, **{name: summary[f"test/{name}"] for name in REPORTED}}


def format_results(results: list[dict], command: str, data: str = "the default synthetic data") -> str:
    """The markdown section: the table over seeds and the paired differences from the baseline."""
    seeds = sorted({result["seed"] for result in results})
    by_key = {(result["variant"], result["seed"]): result for result in results}
    variants = [variant for variant in VARIANTS if any(result["variant"] == variant for result in results)]

    def cell(values: list[float]) -> str:
        mean = 100 * statistics.mean(values)
        return f"{mean:.2f} ± {100 * statistics.stdev(values):.2f}" if len(values) > 1 else f"{mean:.2f}"

    lines = [
        f"Test mAP (%) of the `small` preset on {data}, mean ± standard deviation over "
        f"{len(seeds)} training seed(s) ({', '.join(map(str, seeds))}); Δ: per-seed difference of the average mAP "
        "from the UnAV baseline trained with the same seed.",
        "",
        "| variant | average mAP | mAP@0.5 | mAP@0.7 | mAP@0.9 | Δ average mAP per seed | mean Δ |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant in variants:
        runs = [by_key[(variant, seed)] for seed in seeds if (variant, seed) in by_key]
        cells = [cell([run[name] for run in runs]) for name in REPORTED]
        differences = [
            by_key[(variant, seed)]["average_mAP"] - by_key[(BASELINE, seed)]["average_mAP"]
            for seed in seeds
            if (variant, seed) in by_key and (BASELINE, seed) in by_key
        ]
        if variant == BASELINE or not differences:
            paired, mean_difference = "", ""
        else:
            paired = ", ".join(f"{100 * value:+.2f}" for value in differences)
            mean_difference = f"{100 * statistics.mean(differences):+.2f}"
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {paired} | {mean_difference} |")
    lines += ["", "Regenerate with:", "", "```bash", command, "```"]
    return "\n".join(lines)


def write_section(path: Path, section: str):
    """Replaces the text between the ablations markers of `path` (or appends it, or creates the file)."""
    block = f"{START_MARKER}\n{section}\n{END_MARKER}"
    if path.exists():
        text = path.read_text()
        if START_MARKER in text and END_MARKER in text:
            before, rest = text.split(START_MARKER, 1)
            text = before + block + rest.split(END_MARKER, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        text = f"# Ablations\n\n{block}\n"
    path.write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (paired)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (one process each)")
    parser.add_argument(
        "--device", default="cpu", choices=["cpu", "cuda"], help="cuda: all jobs share the GPU"
    )
    parser.add_argument("--epochs", type=int, default=None, help="default: the small recipe")
    parser.add_argument("--num_videos", type=int, default=None, help="default: the default synthetic data")
    parser.add_argument("--batch_size", type=int, default=None, help="default: the small recipe")
    parser.add_argument(
        "--clean", action="store_true", help="the same videos without distractors and audio-visual shifts"
    )
    parser.add_argument(
        "--model_overrides",
        type=json.loads,
        default={},
        help="JSON object of LocoConfig fields applied to every variant (the switches above still win)",
    )
    parser.add_argument("--work_dir", default="outputs/ablations", help="run folders and results.json")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write the section into")
    args = parser.parse_args()
    if BASELINE not in args.variants:
        parser.error(f"--variants must include {BASELINE!r}: the differences are taken from it.")

    # Workers inherit these before they import torch.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.device == "cpu":
        os.environ["ACCELERATE_USE_CPU"] = "1"
    options = {
        "threads": max(1, (os.cpu_count() or 1) // args.jobs),
        "work_dir": args.work_dir,
        "num_epochs": args.epochs,
        "num_videos": args.num_videos,
        "batch_size": args.batch_size,
        "synthetic_clean": args.clean or None,
        "model_overrides": args.model_overrides,
    }
    grid = [(variant, seed) for seed in args.seeds for variant in args.variants]
    results = []
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        futures = [pool.submit(run_one, variant, seed, options) for variant, seed in grid]
        for future in futures:
            result = future.result()
            results.append(result)
            print(
                f"{result['variant']:<18} seed {result['seed']}: average mAP {100 * result['average_mAP']:.2f}"
            )

    Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.work_dir) / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    command = "python benchmarks/ablations.py " + shlex.join(sys.argv[1:])
    data = (
        "the clean synthetic data (no distractors, no shifts)" if args.clean else "the default synthetic data"
    )
    section = format_results(results, command.strip(), data)
    print(section)
    if args.output:
        write_section(args.output, section)
        print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
