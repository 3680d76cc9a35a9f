# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""The benchmark family of issue #15: the LoCo ablation grid over UnAV-like data conditions, recipes and budgets.

    python benchmarks/ablations.py --family --timelines path/to/unav100_annotations.json --jobs 16
    python benchmarks/ablations.py --family --settings real-anchor --seeds 0 --budgets 5 \\
        --variants 'UnAV baseline' 'LoCo (LCF + LAC)' --split_sizes 1800 300 600 --jobs 2

This module defines the family in one place (`FAMILY_SETTINGS`, `FAMILY_RECIPES`, `FAMILY_BUDGETS`), builds each
setting's videos once (`build_setting_data`) and formats the one table (`format_family_table`); the runs themselves
go through `benchmarks/ablations.py`, which imports it. Every setting is a point of the synthetic generator
(`loco_hf.data.synthetic_unav` keyword arguments): the anchor (`ANCHOR`, the conditions closest to the independent
benchmark of issue #15) and one-knob sweeps around it, each on sampled timelines and on the real UnAV-100 timelines.

Selection and report: formulations and recipes are chosen on the settings built on sampled timelines (role
"select"); the settings on the real UnAV-100 timelines (durations, events, labels and splits of the annotation
file, with their 100 classes at their real frequencies) are only reported (role "report"), so that what we tune on
is never the data we report.
"""

import math
import shutil
import statistics
from dataclasses import dataclass, field
from pathlib import Path

# ----------------------------------------------------------------------------------------------------------------
# The family: settings, recipes, budgets. Edit here; `python benchmarks/ablations.py --family --list` prints it and
# docs/ablations.md holds the same table (a test checks that they agree).
# ----------------------------------------------------------------------------------------------------------------

# The conditions of the independent benchmark of issue #15, as generator knobs: about two one-modality distractors
# per video, audio lagging by two steps with jittered boundaries, classes confusable in one modality and told apart
# by the other (families regrouped in the audio stream), the default noise, UnAV-100's 100 classes.
ANCHOR = {
    "num_classes": 100,
    "distractors_per_video": 2.0,
    "audio_offset_steps": 2.0,
    "asynchrony_steps": 1.0,
    "noise": 2.0,
    "family_share": 0.5,
    "independent_families": True,
}
# One knob at a time around the anchor (the anchor's own value is the anchor setting).
SWEEPS = {
    "distractors_per_video": (0.0, 1.0, 3.0),
    "audio_offset_steps": (0.0, 1.0, 3.0),
    "noise": (1.5, 3.0),
    "family_share": (0.0, 0.7),
    "independent_families": (False,),
}
# Short names of the swept knobs, for setting names.
_KNOB_NAMES = {
    "distractors_per_video": "distractors",
    "audio_offset_steps": "offset",
    "noise": "noise",
    "family_share": "confusability",
    "independent_families": "independent-families",
}
# Recipes tried across the family, for every variant alike: (LocoConfig overrides, TrainingConfig overrides). "small"
# is the `small` preset's recipe (hidden size 64, learning rate 5e-4); "wide" is the recipe of the 3 M-parameter
# UnAV-style model that reached about 28 % on the independent benchmark (hidden size 128, learning rate 1e-3).
FAMILY_RECIPES = {
    "small": ({}, {}),
    "wide": (
        {"hidden_size": 128, "intermediate_size": 512, "head_hidden_size": 128},
        {"learning_rate": 1e-3},
    ),
}
# Training budgets, in epochs.
FAMILY_BUDGETS = (5, 15)
ROLES = ("select", "report")


@dataclass(frozen=True)
class FamilySetting:
    """One data setting of the family.

    Args:
        name (`str`): e.g. "real-anchor", "sampled-offset-3".
        role (`str`): "select" (formulations and recipes are chosen on it) or "report" (only reported).
        data (`dict`): keyword arguments of `loco_hf.data.synthetic_unav` (knobs of `SyntheticUnAVConfig`).
        real_timelines (`bool`): built on the real UnAV-100 timelines of the annotation file (`--timelines`).
    """

    name: str
    role: str
    data: dict = field(default_factory=dict)
    real_timelines: bool = False


def _format_value(value) -> str:
    """A knob value as it appears in a setting name: 3.0 -> "3", 1.5 -> "1.5", False -> "off"."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value:g}"


def family_settings() -> dict[str, FamilySetting]:
    """
    The settings of the family, by name: the project's default data, then for each timeline source (sampled,
    real) the anchor and one setting per swept knob value. Settings on sampled timelines are for selection, those
    on the real timelines are report-only.
    """
    settings = {"default": FamilySetting("default", "select")}
    for source, role in (("sampled", "select"), ("real", "report")):
        real = source == "real"
        settings[f"{source}-anchor"] = FamilySetting(f"{source}-anchor", role, dict(ANCHOR), real)
        for knob, values in SWEEPS.items():
            for value in values:
                name = f"{source}-{_KNOB_NAMES[knob]}-{_format_value(value)}"
                settings[name] = FamilySetting(name, role, {**ANCHOR, knob: value}, real)
    return settings


FAMILY_SETTINGS = family_settings()


def format_settings(settings: dict[str, FamilySetting] | None = None) -> str:
    """Markdown: the anchor's knobs, then a table of the settings (name, role, timelines, knobs that differ from
    the anchor)."""
    settings = FAMILY_SETTINGS if settings is None else settings
    anchor = ", ".join(f"`{name}={value}`" for name, value in ANCHOR.items())
    lines = [
        f"Anchor (`synthetic_unav` keyword arguments): {anchor}.",
        "",
        "| setting | role | timelines | knobs |",
        "|---|---|---|---|",
    ]
    for setting in settings.values():
        if not setting.data:
            knobs = "the generator's defaults"
        else:
            changed = [
                f"`{name}={value}`" for name, value in setting.data.items() if ANCHOR.get(name) != value
            ]
            knobs = ", ".join(["anchor", *changed])
        timelines = "real UnAV-100" if setting.real_timelines else "sampled"
        lines.append(f"| {setting.name} | {setting.role} | {timelines} | {knobs} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# Data: each setting's videos, written once with `save_to_disk` and read by training through `dataset_dir`.
# ----------------------------------------------------------------------------------------------------------------


def generator_kwargs(setting: FamilySetting, timelines: str | None) -> dict:
    """The `synthetic_unav` / `SyntheticUnAVConfig` keyword arguments of a setting (ValueError without
    `timelines` for a setting on real timelines)."""
    if not setting.real_timelines:
        return dict(setting.data)
    if timelines is None:
        raise ValueError(f"Setting {setting.name!r} is built on real timelines: pass --timelines.")
    return {**setting.data, "timelines": str(timelines)}


def videos_needed(split_sizes: dict[str, int], split_of_index) -> int:
    """
    The smallest number of videos (indices 0 .. n - 1) holding at least `split_sizes[split]` videos of each split.

    Args:
        split_sizes (`dict`): videos wanted per split ("train", "validation", "test").
        split_of_index (callable): the split of video index i; raises IndexError past the last video.
    """
    counts = dict.fromkeys(split_sizes, 0)
    index = 0
    while any(counts[split] < wanted for split, wanted in split_sizes.items()):
        try:
            split = split_of_index(index)
        except IndexError:
            raise ValueError(
                f"Only {index} videos are available; they hold {counts}, fewer than {split_sizes}."
            ) from None
        if split in counts:
            counts[split] += 1
        index += 1
    return index


def data_folder(work_dir: Path, setting: FamilySetting, split_sizes: dict[str, int]) -> Path:
    """Where a setting's videos are saved: `<work_dir>/data/<setting>-<train>-<validation>-<test>`."""
    sizes = "-".join(str(split_sizes[split]) for split in ("train", "validation", "test"))
    return Path(work_dir) / "data" / f"{setting.name}-{sizes}"


def build_setting_data(
    setting: FamilySetting, split_sizes: dict[str, int], timelines: str | None, folder: Path
) -> Path:
    """
    Generates the first `split_sizes[split]` videos of each split of a setting (data seed 0) and saves them in
    `folder` (`DatasetDict.save_to_disk`), unless it already holds them. Returns `folder`.
    """
    from loco_hf.data import synthetic_unav
    from loco_hf.data.synthetic import SyntheticUnAVConfig, video_split
    from loco_hf.data.timelines import read_timelines

    folder = Path(folder)
    if (folder / "dataset_dict.json").is_file():
        return folder
    kwargs = generator_kwargs(setting, timelines)
    config = SyntheticUnAVConfig(**kwargs)
    available = len(read_timelines(timelines)) if setting.real_timelines else math.inf

    def split_of_index(index: int) -> str:
        if index >= available:
            raise IndexError(index)
        return video_split(index, config)

    num_videos = videos_needed(split_sizes, split_of_index)
    cache = folder.with_name(folder.name + ".cache")
    dataset = synthetic_unav(num_videos=num_videos, cache_dir=str(cache), **kwargs)
    for split, wanted in split_sizes.items():
        dataset[split] = dataset[split].select(range(wanted))
    partial = folder.with_name(folder.name + ".partial")
    dataset.save_to_disk(str(partial))
    partial.rename(folder)
    shutil.rmtree(cache, ignore_errors=True)
    return folder


# ----------------------------------------------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------------------------------------------


def _mean_and_spread(values: list[float]) -> str:
    """Mean ± standard deviation (the mean alone for one value), in percent."""
    mean = 100 * statistics.mean(values)
    return f"{mean:.2f} ± {100 * statistics.stdev(values):.2f}" if len(values) > 1 else f"{mean:.2f}"


def format_family_table(results: list[dict], variants: list[str], baseline: str) -> str:
    """
    One table over the family: a row per (setting, recipe, budget), the baseline's test average mAP and, for each
    other variant, its average mAP with its paired differences from the baseline (same setting, recipe, budget and
    training seed) and their mean.

    Args:
        results (`list[dict]`): one per run, with "setting", "role", "recipe", "epochs", "variant", "seed" and
            "average_mAP" (a fraction).
        variants (`list[str]`): the variants, in column order; `baseline` among them.
    """
    others = [variant for variant in variants if variant != baseline]
    header = ["setting", "role", "recipe", "epochs", "seeds", f"{baseline} avg mAP"]
    header += [f"{variant}: avg mAP (Δ per seed; mean Δ)" for variant in others]
    lines = [
        "Test average mAP (%), mean ± standard deviation over the seeds; Δ: difference from the "
        f"{baseline} trained with the same setting, recipe, budget and seed, in points.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    order = list(FAMILY_SETTINGS)
    rows = sorted(
        {(r["setting"], r["role"], r["recipe"], r["epochs"]) for r in results},
        key=lambda row: (order.index(row[0]) if row[0] in order else len(order), row[0], row[2], row[3]),
    )
    for setting, role, recipe, epochs in rows:
        runs = {
            (r["variant"], r["seed"]): r["average_mAP"]
            for r in results
            if (r["setting"], r["recipe"], r["epochs"]) == (setting, recipe, epochs)
        }
        seeds = sorted({seed for _, seed in runs})
        base = [runs[(baseline, seed)] for seed in seeds if (baseline, seed) in runs]
        cells = [setting, role, recipe, str(epochs), ", ".join(map(str, seeds))]
        cells.append(_mean_and_spread(base) if base else "")
        for variant in others:
            values = [runs[(variant, seed)] for seed in seeds if (variant, seed) in runs]
            differences = [
                runs[(variant, seed)] - runs[(baseline, seed)]
                for seed in seeds
                if (variant, seed) in runs and (baseline, seed) in runs
            ]
            if not values:
                cells.append("")
                continue
            cell = _mean_and_spread(values)
            if differences:
                paired = ", ".join(f"{100 * value:+.2f}" for value in differences)
                cell += f" ({paired}; {100 * statistics.mean(differences):+.2f})"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
