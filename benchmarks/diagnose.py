# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Where LoCo's modules help or hurt on a data setting of the family: per trained model, per kind of step.

    python benchmarks/diagnose.py outputs/family/real-anchor/small/e5/unav_baseline/seed0 \\
        outputs/family/real-anchor/small/e5/loco/seed0 --setting real-anchor \\
        --timelines path/to/unav100_annotations.json --num_videos 200

For each trained output folder (a `loco_hf.training.train` output: weights, feature extractor, logs) the script
regenerates the first `--num_videos` test videos of the setting (benchmarks/family.py) with their hidden sources,
sorts every feature step into one kind (a labelled audio-visual event, an audio-only or a visual-only distractor,
or background; a step inside a labelled event counts as the event) and reports, per kind:

* confidence: the mean of the largest class probability over the points at that step (all pyramid levels), and
  the mean probability of the step's own class (the labelled event's class; on a distractor, the distractor's
  class, which is a wrong answer);
* LCF (when on): the coherence c(t) and the gate sigmoid(k c(t) + b) of each stream, averaged over the layers;
* cross-modal attention at pyramid level 0, per direction: the mass on LAC's null key, inside the query's own
  window (within one predicted width of its shifted centre) and within two steps of the query (every variant);
* the validation curve of the training log (validation average mAP after each evaluation).

The model is not changed: LCF and the attention are read with forward hooks, the attention weights by recomputing
softmax(q k^T / sqrt(d_h) + bias) from the arguments of `scaled_dot_product_attention` while a level-0
cross-attention block runs.
"""

import argparse
import contextlib
import json
import math
from pathlib import Path

import family
import numpy as np
import torch
import torch.nn.functional as F

STEP_KINDS = ("event", "audio-only distractor", "visual-only distractor", "background")
# Attention within this many steps of the query counts as local (for dense and windowed attention alike).
LOCAL_RADIUS_STEPS = 2
# A key is inside a LAC query's window when its bias -(j - i - delta)^2 / (2 w^2) is at least this: |j - i - delta|
# within one width w.
IN_WINDOW_MIN_BIAS = -0.5


def step_kinds(video, num_steps: int, feature_extractor, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """
    The kind of each feature step of a synthetic video, and the classes of what makes it that kind.

    A step is placed at its window's centre (`feature_extractor.steps_to_seconds`); it is an event if a labelled
    segment holds that time (its classes: those of the labelled events there), else a distractor of the modality of
    a distractor span holding it (its classes: those of the distractors there), else background (no class).

    Args:
        video (`loco_hf.data.SyntheticVideo`): the video with its hidden sources.
        num_steps (`int`): T, the video's feature length.
        num_classes (`int`): C.

    Returns:
        kinds (`np.ndarray` of shape `(T,)`, int64): indices into `STEP_KINDS`; classes (`(T, C)`, bool).
    """
    times = feature_extractor.steps_to_seconds(np.arange(num_steps, dtype=np.float64))  # (T,)

    def covering(segments) -> np.ndarray:
        segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2)
        # (n, 1) against (1, T) -> (n, T): which span holds which step
        return (segments[:, :1] <= times[None]) & (times[None] <= segments[:, 1:])

    def classes_of(cover: np.ndarray, labels) -> np.ndarray:
        one_hot = np.eye(num_classes, dtype=bool)[np.asarray(labels, dtype=np.int64)]  # (n, C)
        return (cover[:, :, None] & one_hot[:, None]).any(axis=0)  # (n, T, C) -> (T, C)

    kinds = np.full(num_steps, STEP_KINDS.index("background"), dtype=np.int64)
    classes = np.zeros((num_steps, num_classes), dtype=bool)
    modalities = np.array(video.distractor_modalities, dtype=object)
    distractors = np.asarray(video.distractor_segments).reshape(-1, 2)
    for modality in ("visual", "audio"):
        cover = covering(distractors[modalities == modality])
        held = cover.any(axis=0)
        kinds[held] = STEP_KINDS.index(f"{modality}-only distractor")
        classes[held] = classes_of(cover, np.asarray(video.distractor_labels)[modalities == modality])[held]
    cover = covering(video.segments)
    held = cover.any(axis=0)
    kinds[held] = STEP_KINDS.index("event")
    classes[held] = classes_of(cover, video.labels)[held]
    return kinds, classes


class KindAverages:
    """Running means of named per-step quantities, per step kind."""

    def __init__(self):
        self.sums, self.counts = {}, {}

    def add(self, name: str, values: torch.Tensor, kinds: torch.Tensor, valid: torch.Tensor):
        """Adds `values` `(B, T)` at the valid steps `(B, T)` of each kind `(B, T)`."""
        values, kinds, valid = values.detach().float().cpu(), kinds.cpu(), valid.cpu()
        for index in range(len(STEP_KINDS)):
            selected = valid & (kinds == index)
            self.sums[name, index] = self.sums.get((name, index), 0.0) + values[selected].sum().item()
            self.counts[name, index] = self.counts.get((name, index), 0) + int(selected.sum())

    def means(self) -> dict[str, list[float]]:
        """Per name, the mean of each kind (NaN where a kind had no step)."""
        names = dict.fromkeys(name for name, _ in self.sums)
        return {
            name: [
                self.sums[name, index] / self.counts[name, index] if self.counts[name, index] else math.nan
                for index in range(len(STEP_KINDS))
            ]
            for name in names
        }


@contextlib.contextmanager
def recorded_attention(blocks: dict):
    """
    Records the attention weights of `blocks` (name -> cross-attention block) while they run: a dict filled with
    name -> weights `(B, H, Tq, Tk)` (`Tk` includes LAC's null key, first) and name + "/window" -> LAC's window bias
    `(B, H, Tq, Tk)` (the same columns, the null key first).
    """
    records, running = {}, []
    original = F.scaled_dot_product_attention

    def recording(query, key, value, attn_mask=None, **kwargs):
        if running:
            # (B, H, Tq, d_h) x (B, H, d_h, Tk) -> (B, H, Tq, Tk)
            scores = query.float() @ key.float().transpose(-1, -2) / math.sqrt(query.shape[-1])
            if attn_mask is not None:
                scores = scores + attn_mask.float()
            records[running[-1]] = scores.softmax(dim=-1)
        return original(query, key, value, attn_mask=attn_mask, **kwargs)

    def entering(name):
        def hook(module, args):
            running.append(name)

        return hook

    def leaving(module, args, output):
        running.pop()  # a hook returning None leaves the output as it is

    def window_recorder(name):
        def hook(module, args, output):
            records[f"{name}/window"] = output

        return hook

    handles = []
    for name, block in blocks.items():
        handles.append(block.register_forward_pre_hook(entering(name)))
        handles.append(block.register_forward_hook(leaving))
        window = getattr(block, "local_window", None)
        if window is not None:
            handles.append(window.register_forward_hook(window_recorder(name)))
    F.scaled_dot_product_attention = recording
    try:
        yield records
    finally:
        F.scaled_dot_product_attention = original
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def recorded_lcf(modules: list):
    """Records each LCF module's coherence and gate while it runs: a list of (coherence, gate) `(2, B, T)` pairs
    (audio, visual), one per module call."""
    records = []

    def hook(module, args, output):
        coherence = output[-1]
        gate = torch.sigmoid(module.pair_log_scale.exp() * coherence + module.pair_bias)
        records.append((coherence, gate))

    handles = [module.register_forward_hook(hook) for module in modules]
    try:
        yield records
    finally:
        for handle in handles:
            handle.remove()


def level0_cross_attention_blocks(model) -> dict:
    """The cross-modal attention blocks of pyramid level 0 (stride 1), by the name of the stream they update."""
    from loco_hf.modeling_loco import LocoAttentionBlock

    blocks = {}
    for name, module in model.named_modules():
        if isinstance(module, LocoAttentionBlock) and module.norm_context is not None and module.stride == 1:
            blocks["visual update" if "visual" in name else "audio update"] = module
    return blocks


def diagnose_model(model, feature_extractor, videos: list, batch_size: int = 8) -> dict[str, list[float]]:
    """
    Per-kind means of the model's confidence, LCF coherence and gate, and level-0 attention masses over `videos`.

    Args:
        model (`LocoForEventLocalization`), feature_extractor (`LocoFeatureExtractor`).
        videos (`list[SyntheticVideo]`).

    Returns:
        `dict` of quantity name -> one mean per kind of `STEP_KINDS` (NaN where a kind had no step).
    """
    from loco_hf.modeling_loco import LocoLocalCorrespondence

    model.eval()
    if model.config._attn_implementation not in (None, "sdpa"):
        # the attention weights are read from the arguments of scaled_dot_product_attention, which "sdpa" calls
        model.set_attn_implementation("sdpa")
    averages = KindAverages()
    blocks = level0_cross_attention_blocks(model)
    lcf_modules = [module for module in model.modules() if isinstance(module, LocoLocalCorrespondence)]
    for start in range(0, len(videos), batch_size):
        batch_videos = videos[start : start + batch_size]
        inputs = feature_extractor(
            [video.visual_features for video in batch_videos],
            [video.audio_features for video in batch_videos],
            return_tensors="pt",
            padding="longest",
        )
        valid = inputs["attention_mask"].bool()  # (B, T)
        num_classes = model.config.num_labels
        kinds = torch.zeros(valid.shape, dtype=torch.long)
        classes = torch.zeros((*valid.shape, num_classes), dtype=torch.bool)  # (B, T, C)
        for row, video in enumerate(batch_videos):
            length = int(valid[row].sum())
            row_kinds, row_classes = step_kinds(video, length, feature_extractor, num_classes)
            kinds[row, :length], classes[row, :length] = (
                torch.from_numpy(row_kinds),
                torch.from_numpy(row_classes),
            )
        with torch.no_grad(), recorded_attention(blocks) as attention, recorded_lcf(lcf_modules) as lcf:
            outputs = model(**inputs)

        # Confidence: the largest class probability of each point, at the step of its position.
        probabilities = outputs.logits.float().sigmoid()  # (B, P, C)
        point_steps = outputs.point_positions.round().long().clamp(max=valid.shape[1] - 1)  # (P,)
        point_valid = outputs.point_mask.bool() & valid[:, point_steps]
        averages.add("confidence", probabilities.amax(dim=-1), kinds[:, point_steps], point_valid)
        # ... and the probability of the class there (the labelled event's, or the distractor's: a wrong answer)
        point_classes = classes[:, point_steps]  # (B, T, C) -> (B, P, C)
        class_probability = probabilities.masked_fill(~point_classes, 0.0).amax(dim=-1)
        averages.add(
            "probability of its class",
            class_probability,
            kinds[:, point_steps],
            point_valid & point_classes.any(dim=-1),
        )

        for name, records in (("coherence", [c for c, _ in lcf]), ("gate", [g for _, g in lcf])):
            if records:
                stacked = torch.stack(records).mean(dim=0)  # layers x (2, B, T) -> (2, B, T)
                for stream, values in zip(("audio", "visual"), stacked, strict=True):
                    averages.add(f"LCF {name} ({stream})", values[:, : valid.shape[1]], kinds, valid)

        for direction in blocks:
            weights = attention[direction].mean(dim=1)  # (B, H, Tq, Tk) -> (B, Tq, Tk)
            window = attention.get(f"{direction}/window")
            if window is not None:
                averages.add(f"{direction}: null key", weights[..., 0], kinds, valid)
                weights = weights[..., 1:]
                # per head, the mass on keys inside its window: (B, H, Tq, Tk) -> (B, H, Tq) -> (B, Tq)
                # the window bias has a column for every key, the null key first (its bias is set apart)
                in_window = window[..., 1:] >= IN_WINDOW_MIN_BIAS
                inside = (attention[direction][..., 1:] * in_window).sum(-1).mean(dim=1)
                averages.add(f"{direction}: own window", inside, kinds, valid)
            length = weights.shape[-1]
            steps = torch.arange(length)
            near = ((steps[None] - steps[:, None]).abs() <= LOCAL_RADIUS_STEPS).float()  # (Tq, Tk)
            averages.add(
                f"{direction}: within {LOCAL_RADIUS_STEPS} steps", (weights * near).sum(-1), kinds, valid
            )
        averages.add("steps", torch.ones(valid.shape), kinds, valid)
    means = averages.means()
    counts = [averages.counts["steps", index] for index in range(len(STEP_KINDS))]
    means["share of steps"] = [count / sum(counts) for count in counts]
    del means["steps"]
    return means


def validation_curve(output_dir: str | Path) -> list[tuple[float, float]]:
    """(epoch, validation average mAP) after each evaluation, from the run's `logs/train.jsonl`."""
    path = Path(output_dir) / "logs" / "train.jsonl"
    if not path.is_file():
        return []
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    config = next((record["config"] for record in records if "config" in record), {})
    steps_per_epoch = config.get("total_updates", 0) / max(config.get("num_epochs", 1), 1)
    # the last evaluation can be logged twice at one step (each epoch's and the final one): keep one per step
    by_step = {
        record["step"]: record["validation/average_mAP"]
        for record in records
        if "validation/average_mAP" in record
    }
    return [
        (step / steps_per_epoch if steps_per_epoch else math.nan, value) for step, value in by_step.items()
    ]


def test_videos(setting: family.FamilySetting, timelines: str | None, num_videos: int) -> list:
    """The first `num_videos` test videos of a setting (data seed 0), with their hidden sources; the same videos
    as the first test rows of `family.build_setting_data`."""
    from loco_hf.data.synthetic import SyntheticUnAVConfig, generate_synthetic_video, video_split
    from loco_hf.data.timelines import read_timelines

    config = SyntheticUnAVConfig(**family.generator_kwargs(setting, timelines))
    available = len(read_timelines(timelines)) if setting.real_timelines else math.inf
    videos, index = [], 0
    while len(videos) < num_videos and index < available:
        if video_split(index, config) == "test":
            videos.append(generate_synthetic_video(index, config))
        index += 1
    return videos


def format_report(reports: dict[str, dict], curves: dict[str, list]) -> str:
    """Markdown: one table of per-kind means (a row per model and quantity), then the validation curves."""
    lines = ["| model | quantity | " + " | ".join(STEP_KINDS) + " |", "|---|---|" + "---|" * len(STEP_KINDS)]
    for model_name, means in reports.items():
        for quantity, values in means.items():
            cells = " | ".join("" if math.isnan(value) else f"{value:.3f}" for value in values)
            lines.append(f"| {model_name} | {quantity} | {cells} |")
    lines += ["", "Validation average mAP (%) by epoch:", ""]
    for model_name, curve in curves.items():
        points = ", ".join(f"{epoch:.0f}: {100 * value:.2f}" for epoch, value in curve) or "no log"
        lines.append(f"- {model_name}: {points}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", help="trained output folders (loco_hf.training.train outputs)")
    parser.add_argument("--setting", default="default", choices=family.FAMILY_SETTINGS)
    parser.add_argument("--timelines", default=None, help="UnAV-100 annotation file (real-timeline settings)")
    parser.add_argument("--num_videos", type=int, default=200, help="test videos to diagnose")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from loco_hf import LocoFeatureExtractor, LocoForEventLocalization

    videos = test_videos(family.FAMILY_SETTINGS[args.setting], args.timelines, args.num_videos)
    reports, curves = {}, {}
    for folder in args.models:
        model = LocoForEventLocalization.from_pretrained(folder)
        feature_extractor = LocoFeatureExtractor.from_pretrained(folder)
        reports[folder] = diagnose_model(model, feature_extractor, videos, args.batch_size)
        curves[folder] = validation_curve(folder)
    print(f"Setting {args.setting}, {len(videos)} test videos.\n")
    print(format_report(reports, curves))


if __name__ == "__main__":
    main()
