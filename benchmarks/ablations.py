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
Runs go to separate processes, `--jobs` at a time, each with `cpu_count // jobs` torch threads. A run whose folder
already holds its metrics.json (same variant, seed, budget, data and overrides) is read back instead of trained, and
a run stopped midway resumes from its last checkpoint, so a grid can be spread over several sessions or machines.

`--family` runs the benchmark family of issue #15 instead (settings x recipes x budgets x variants x seeds; the
family is defined in benchmarks/family.py) and prints one table with the paired differences per setting:

    python benchmarks/ablations.py --family --list                                 # the settings, no training
    python benchmarks/ablations.py --family --timelines path/to/unav100_annotations.json --jobs 16
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

import family

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
# Why tests/test_docs.py does not run the regenerating command written under each table.
NO_TEST_REASON = "trains every variant: tens of CPU minutes"


def run_folder(work_dir: str | Path, variant: str, seed: int) -> Path:
    """The output folder of one run: `<work_dir>/<variant slug>/seed<seed>`."""
    return Path(work_dir) / variant.split(" (")[0].replace(" ", "_").lower() / f"seed{seed}"


def finished_metrics(output_dir: Path, expected: dict) -> dict | None:
    """
    The test metrics of a finished run in `output_dir` (None if it has no metrics.json), after checking that it was
    trained as `expected` says (TrainingConfig fields; `model_overrides` compared as parsed JSON).
    """
    path = Path(output_dir) / "metrics.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text())
    training = metrics["training"]
    for name, value in expected.items():
        stored = training.get(name)
        if name == "model_overrides":
            stored, value = json.loads(stored or "{}"), json.loads(value or "{}")
        if stored != value:
            raise ValueError(
                f"{output_dir} holds a run with {name}={stored!r}, not {value!r}: remove it or pick another --work_dir."
            )
    return {name: metrics["summary"][f"test/{name}"] for name in REPORTED}


def run_one(variant: str, seed: int, options: dict) -> dict:
    """One training run in this (worker) process, or the metrics of the finished run in its folder; returns its
    test metrics with the run's `labels`."""
    output_dir = Path(options["output_dir"])
    training = {
        "model_overrides": json.dumps({**options["model_overrides"], **VARIANTS[variant]}),
        "seed": seed,
        **{name: value for name, value in options["training"].items() if value is not None},
    }
    metrics = finished_metrics(output_dir, training)
    if metrics is None:
        import torch

        # on a GPU too: evaluation and post-processing run on the CPU
        torch.set_num_threads(options["threads"])
        from loco_hf.training import TrainingConfig, latest_checkpoint, train

        resume = "latest" if latest_checkpoint(output_dir) is not None else None
        config = TrainingConfig(
            preset="small",
            cpu_threads=options["threads"],
            output_dir=str(output_dir),
            resume_from_checkpoint=resume,
            **training,
        )
        summary = train(config)
        metrics = {name: summary[f"test/{name}"] for name in REPORTED}
    return {**options.get("labels", {}), "variant": variant, "seed": seed, **metrics}


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
    lines += ["", "Regenerate with:", "", f"<!-- no-test: {NO_TEST_REASON} -->", "```bash", command, "```"]
    return "\n".join(lines)


def write_section(path: Path, section: str, name: str = "ablations"):
    """Replaces the text between the `<!-- name:start -->` and `<!-- name:end -->` markers of `path` (or appends
    it, or creates the file)."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{section}\n{end}"
    if path.exists():
        text = path.read_text()
        if start in text and end in text:
            before, rest = text.split(start, 1)
            text = before + block + rest.split(end, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        text = f"# Ablations\n\n{block}\n"
    path.write_text(text)


def run_grid(grid: list[tuple[str, int, dict]], jobs: int) -> list[dict]:
    """Runs (variant, seed, options) triples, `jobs` processes at a time; prints each result as it comes."""
    results = []
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        futures = [pool.submit(run_one, variant, seed, options) for variant, seed, options in grid]
        for future in futures:
            result = future.result()
            results.append(result)
            where = " ".join(f"{result[key]}" for key in ("setting", "recipe", "epochs") if key in result)
            print(
                f"{where + ' ' if where else ''}{result['variant']:<18} seed {result['seed']}: "
                f"average mAP {100 * result['average_mAP']:.2f}"
            )
    return results


def family_grid(args, threads: int) -> list[tuple[str, int, dict]]:
    """The family runs asked for: settings x recipes x budgets x variants x seeds, each setting's data built once."""
    sizes = dict(zip(("train", "validation", "test"), args.split_sizes, strict=True))
    grid = []
    for name in args.settings:
        setting = family.FAMILY_SETTINGS[name]
        folder = family.data_folder(args.work_dir, setting, sizes)
        print(f"data of {name}: {family.build_setting_data(setting, sizes, args.timelines, folder)}")
        for recipe in args.recipes:
            recipe_model, recipe_training = family.FAMILY_RECIPES[recipe]
            for epochs in args.budgets:
                labels = {"setting": name, "role": setting.role, "recipe": recipe, "epochs": epochs}
                options = {
                    "threads": threads,
                    "model_overrides": {**args.model_overrides, **recipe_model},
                    "training": {"num_epochs": epochs, "dataset_dir": str(folder), **recipe_training},
                    "labels": labels,
                }
                for seed in args.seeds:
                    for variant in args.variants:
                        run_dir = run_folder(
                            Path(args.work_dir) / name / recipe / f"e{epochs}", variant, seed
                        )
                        grid.append((variant, seed, {**options, "output_dir": str(run_dir)}))
    return grid


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
    parser.add_argument("--work_dir", default=None, help="run folders and results.json")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write the section into")
    group = parser.add_argument_group("the benchmark family (issue #15; benchmarks/family.py)")
    group.add_argument("--family", action="store_true", help="run the family instead of the default grid")
    group.add_argument("--list", action="store_true", help="print the family's settings and exit")
    group.add_argument(
        "--settings", nargs="+", default=list(family.FAMILY_SETTINGS), choices=family.FAMILY_SETTINGS
    )
    group.add_argument("--roles", nargs="+", default=list(family.ROLES), choices=family.ROLES)
    group.add_argument(
        "--recipes", nargs="+", default=list(family.FAMILY_RECIPES), choices=family.FAMILY_RECIPES
    )
    group.add_argument("--budgets", type=int, nargs="+", default=list(family.FAMILY_BUDGETS), help="epochs")
    group.add_argument(
        "--split_sizes",
        type=int,
        nargs=3,
        default=[1800, 600, 600],
        metavar=("TRAIN", "VALIDATION", "TEST"),
        help="videos per split of every setting",
    )
    group.add_argument(
        "--timelines", default=None, help="UnAV-100 annotation file (the real-timeline settings)"
    )
    args = parser.parse_args()
    if args.list:
        print(family.format_settings())
        return
    if args.family and (args.epochs or args.num_videos or args.batch_size or args.clean):
        parser.error("--family sets the data and budget by --settings, --split_sizes and --budgets.")
    if BASELINE not in args.variants:
        parser.error(f"--variants must include {BASELINE!r}: the differences are taken from it.")
    if args.work_dir is None:
        args.work_dir = "outputs/family" if args.family else "outputs/ablations"

    # Workers inherit these before they import torch.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.device == "cpu":
        os.environ["ACCELERATE_USE_CPU"] = "1"
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    if args.family:
        args.settings = [name for name in args.settings if family.FAMILY_SETTINGS[name].role in args.roles]
        if args.timelines is None:
            skipped = [name for name in args.settings if family.FAMILY_SETTINGS[name].real_timelines]
            if skipped:
                print(f"No --timelines: skipping the real-timeline settings {', '.join(skipped)}.")
            args.settings = [name for name in args.settings if name not in skipped]
        grid = family_grid(args, threads)
    else:
        training = {
            "num_epochs": args.epochs,
            "num_videos": args.num_videos,
            "batch_size": args.batch_size,
            "synthetic_clean": args.clean or None,
        }
        options = {"threads": threads, "model_overrides": args.model_overrides, "training": training}
        grid = [
            (variant, seed, {**options, "output_dir": str(run_folder(args.work_dir, variant, seed))})
            for seed in args.seeds
            for variant in args.variants
        ]
    results = run_grid(grid, args.jobs)

    Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    (Path(args.work_dir) / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    command = ("python benchmarks/ablations.py " + shlex.join(sys.argv[1:])).strip()
    if args.family:
        table = family.format_family_table(results, args.variants, BASELINE)
        section = "\n".join(
            [
                table,
                "",
                "Regenerate with:",
                "",
                f"<!-- no-test: {NO_TEST_REASON} -->",
                "```bash",
                command,
                "```",
            ]
        )
    else:
        data = (
            "the clean synthetic data (no distractors, no shifts)"
            if args.clean
            else "the default synthetic data"
        )
        section = format_results(results, command, data)
    print(section)
    if args.output:
        write_section(args.output, section, "family" if args.family else "ablations")
        print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
