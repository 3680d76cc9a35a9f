# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Model cards for trained LoCo models: Hub metadata (model-index results) and a README that says what the model
is, how it was trained and evaluated, how to run it and try it, what it is not for, and which paper to cite.

The Hub has no temporal- or event-localization task, so the card files the model under its nearest task,
`video-classification` (what it classifies is spans of a video), turns the inference widget off (`inference: false`:
no inference provider runs a custom-code model on pre-extracted features), and says what it does with the tags
people search for. `library_name` is transformers and the `custom_code` tag makes the Hub's snippet add
`trust_remote_code=True`. The way to try the model on the Hub is the gradio demo (`demo/` of the loco-hf
repository) run as a Space, which the card links to.
"""

from collections.abc import Mapping

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .configuration_loco import LocoConfig

__all__ = ["LOCO_CITATION", "METRIC_ID", "TASK_NAME", "TASK_TYPE", "build_model_card", "card_metadata"]

TASK_TYPE = "audio-visual-event-localization"
TASK_NAME = "Dense Audio-Visual Event Localization"
PIPELINE_TAG = "video-classification"
TAGS = [
    "audio-visual",
    "audio-visual-event-localization",
    "event-localization",
    "temporal-action-localization",
    "temporal-localization",
    "dense-event-localization",
    "video",
    "audio",
    "loco",
    "custom_code",
]
# The id of the project's `evaluate` module (metrics/dave_map: evaluate.load("metrics/dave_map").name), the metric
# that computes the card's mAP figures.
METRIC_ID = "dave_map"


def card_metadata(*, extra_tags: list[str] = (), **fields) -> ModelCardData:
    """The Hub metadata every LoCo card shares (library, licence, task, widget off, tags, metric id), plus `fields`
    (`model_name`, `datasets`, `eval_results`, ...)."""
    return ModelCardData(
        library_name="transformers",
        license="mit",
        pipeline_tag=PIPELINE_TAG,
        inference=False,
        tags=[*TAGS, *extra_tags],
        metrics=[METRIC_ID],
        **fields,
    )


# mAP thresholds the card lists in the model-index, as UnAV-100 papers report them, plus the average over 0.1:0.9.
CARD_THRESHOLDS = ("0.5", "0.6", "0.7", "0.8", "0.9")

LOCO_CITATION = """\
@article{xing2024loco,
  title   = {Locality-aware Cross-modal Correspondence Learning for Dense Audio-Visual Events Localization},
  author  = {Xing, Ling and Qu, Hongyu and Yan, Rui and Shu, Xiangbo and Tang, Jinhui},
  journal = {arXiv preprint arXiv:2409.07967},
  year    = {2024}
}"""


def _eval_results(test_metrics: Mapping, dataset_name: str, dataset_type: str) -> list[EvalResult]:
    """model-index entries: test mAP at tIoU 0.5 ... 0.9 and the average over 0.1 ... 0.9, in percent."""
    common = {
        "task_type": TASK_TYPE,
        "task_name": TASK_NAME,
        "dataset_type": dataset_type,
        "dataset_name": dataset_name,
        "dataset_split": "test",
        "metric_type": METRIC_ID,
    }
    results = [
        EvalResult(
            **common,
            metric_name=f"mAP@{threshold}",
            metric_value=round(100 * test_metrics["mAP"][threshold], 2),
            metric_config=f"tIoU={threshold}",
        )
        for threshold in CARD_THRESHOLDS
        if threshold in test_metrics["mAP"]
    ]
    results.append(
        EvalResult(
            **common,
            metric_name="average mAP",
            metric_value=round(100 * test_metrics["average_mAP"], 2),
            metric_config="mean over tIoU=0.1:0.1:0.9",
        )
    )
    return results


def _variant(model_config: LocoConfig) -> str:
    if (
        not model_config.use_lcf
        and not model_config.use_lac
        and model_config.cross_attention_query_source == "other_stream"
    ):
        return "the UnAV baseline (LCF and LAC off, UnAV's cross-attention queries)"
    parts = [
        f"LCF {'on' if model_config.use_lcf else 'off'}",
        f"LAC {'on' if model_config.use_lac else 'off'}",
        f"cross-attention queries from the {'updated' if model_config.cross_attention_query_source == 'updated_stream' else 'other'} "
        "stream",
    ]
    return "LoCo (" + ", ".join(parts) + ")"


def _results_section(test_metrics: Mapping | None, validation_average_map: float | None) -> str:
    if test_metrics is None:
        return "No test split was evaluated."
    keys = list(test_metrics["mAP"])
    lines = [
        "Test mAP (%) at temporal-IoU thresholds, ActivityNet protocol as in UnAV, EMA weights selected on validation:",
        "",
        "| " + " | ".join([*keys, "average"]) + " |",
        "|" + "---|" * (len(keys) + 1),
        "| " + " | ".join(f"{100 * test_metrics['mAP'][key]:.2f}" for key in keys)
        + f" | {100 * test_metrics['average_mAP']:.2f} |",
    ]  # fmt: skip
    if validation_average_map is not None:
        lines += ["", f"Validation average mAP of the selected weights: {100 * validation_average_map:.2f}."]
    per_class = {
        name: values["average"]
        for name, values in test_metrics.get("per_class_AP", {}).items()
        if values["average"] is not None
    }
    if per_class:
        ranked = sorted(per_class.items(), key=lambda item: item[1])
        worst = ", ".join(f"{name} {100 * value:.1f}" for name, value in ranked[:3])
        best = ", ".join(f"{name} {100 * value:.1f}" for name, value in ranked[::-1][:3])
        lines += ["", f"Per-class average AP (%), best: {best}; worst: {worst}. All classes: `metrics.json`."]
    return "\n".join(lines)


def _try_it_section(model_id: str, demo_space: str | None) -> str:
    run_locally = (
        "The gradio demo of loco-hf (its `demo/` folder, a ready Space) runs the model on synthetic example videos "
        f'or on uploaded `.npy` features: `pip install "loco-hf[demo]"`, then `python demo/app.py --model {model_id}`'
        f" (or `LOCO_MODEL={model_id}`), or upload the folder as a gradio Space with the variable "
        f"`LOCO_MODEL={model_id}`."
    )
    if demo_space:
        return f"In the browser: [the demo Space](https://huggingface.co/spaces/{demo_space}). {run_locally}"
    return run_locally


def build_model_card(
    *,
    model_id: str,
    model_config: LocoConfig,
    title: str | None = None,
    training: Mapping,
    test_metrics: Mapping | None,
    dataset_description: str,
    validation_average_map: float | None = None,
    dataset_id: str | None = None,
    num_parameters: int | None = None,
    example_image: str | None = None,
    demo_space: str | None = None,
) -> ModelCard:
    """The model card of a trained LoCo model.

    Args:
        model_id (`str`): the Hub id (or the local folder) that the code examples load.
        title (`str`, *optional*): the card's title and model-index name; default `model_id`.
        model_config (`LocoConfig`): the trained model's configuration.
        training (`dict`): the training run's settings (`TrainingConfig` fields plus "num_processes" and
            "total_updates").
        test_metrics (`dict`, *optional*): "mAP" ({"0.1": ..., "0.9": ...}, fractions), "average_mAP" and
            "per_class_AP", as `loco_hf.training.compute_metrics` returns them.
        dataset_description (`str`): one sentence on the training data (markdown).
        validation_average_map (`float`, *optional*): the selected weights' validation average mAP (fraction).
        dataset_id (`str`, *optional*): the Hub dataset id, when the data came from the Hub.
        num_parameters (`int`, *optional*): shown in the model details.
        example_image (`str`, *optional*): a PNG in the model folder to show (an example timeline).
        demo_space (`str`, *optional*): the Hub id of a Space running `demo/app.py` with this model, linked from
            the card; without one the card says how to start the demo.

    Returns:
        `huggingface_hub.ModelCard` whose metadata holds library_name, pipeline_tag, tags, license, the metric id
        and (with test metrics and a Hub dataset id) the model-index results.
    """
    synthetic = not training.get("dataset_dir")
    title = title or model_id
    # The model-index needs the dataset's Hub id: without one the results are in the text only.
    eval_results = None
    if test_metrics and dataset_id:
        eval_results = _eval_results(test_metrics, dataset_name=dataset_id, dataset_type=dataset_id)
    card_data = card_metadata(
        extra_tags=["synthetic-data"] if synthetic else [],
        model_name=title,
        datasets=[dataset_id] if dataset_id else None,
        eval_results=eval_results,
    )
    parameters = f"{num_parameters / 1e6:.2f} M parameters, " if num_parameters else ""
    image = f"\n![Example timeline: ground truth and predictions]({example_image})\n" if example_image else ""
    limitations_data = (
        "It was trained on **synthetic** features, so it is a demonstration and a test of the training code: it "
        "knows nothing about real videos. Train on the UnAV-100 features for real use (`docs/training.md`)."
        if synthetic
        else "It inherits the biases of UnAV-100 (YouTube videos, 100 everyday classes dominated by speech and "
        "music, English-language tags) and of the feature extractors it was trained on."
    )
    body = f"""
# {title}

{_variant(model_config)} for **dense audio-visual event localization** (DAVE): given per-step visual and audio
features of an untrimmed video, it returns the start, end (seconds), class and score of every event that is both
audible and visible, events that may overlap and last from a fraction of a second to the whole video.
LoCo is described in *Locality-aware Cross-modal Correspondence Learning for Dense Audio-Visual Events
Localization* (Xing, Qu, Yan, Shu and Tang, arXiv 2409.07967); this implementation is the `loco-hf` package.
{image}
## Model details

- Architecture: {parameters}hidden size {model_config.hidden_size}, {model_config.num_attention_heads} heads,
  {model_config.num_unimodal_layers} unimodal layers per modality, a {model_config.num_pyramid_levels}-level
  cross-modal pyramid (strides {model_config.pyramid_strides}), dependency block
  {"on" if model_config.use_dependency_block else "off"}, class-aware heads over {model_config.num_labels} classes.
- LCF (Local Correspondence Feature modulation): {"on" if model_config.use_lcf else "off"}; LAC (Local Adaptive
  Cross-modal interaction): {"on" if model_config.use_lac else "off"}.
- Inputs: visual features of {model_config.visual_dim} channels and audio features of {model_config.audio_dim}
  channels on one time grid: one step every {model_config.feature_stride} frames at {model_config.fps:g} fps
  ({model_config.seconds_per_step:.2f} s), each feature covering {model_config.feature_window} frames.
- Outputs: up to 100 events per video after per-class soft-NMS (settings in `preprocessor_config.json`).

## Intended use and limitations

For research on audio-visual event localization from pre-extracted features: it does not read video or audio
files, and its features must come from the same extractors, on the same time grid, as its training data.
{limitations_data} Scores are not calibrated probabilities, and events shorter than one feature step cannot be
localized precisely. It is not meant for surveillance or for decisions about people.

## How to use

The model ships its code (`trust_remote_code=True`); with loco-hf installed the same classes are used locally.

```python
import numpy as np
from transformers import AutoFeatureExtractor, AutoModel, pipeline

model = AutoModel.from_pretrained("{model_id}", trust_remote_code=True)
feature_extractor = AutoFeatureExtractor.from_pretrained("{model_id}", trust_remote_code=True)

visual = np.load("video_visual.npy")  # (T, {model_config.visual_dim})
audio = np.load("video_audio.npy")    # (T, {model_config.audio_dim})
inputs = feature_extractor(visual, audio, return_tensors="pt")
outputs = model(**inputs)
events = feature_extractor.post_process_event_localization(outputs, durations=[video_duration_seconds])[0]
# events["segments"] (seconds), events["scores"], events["label_names"]

# or the pipeline (task "{TASK_TYPE}"):
localizer = pipeline(model="{model_id}", trust_remote_code=True)
localizer({{"visual_features": visual, "audio_features": audio}})
# [{{'label': ..., 'start': ..., 'end': ..., 'score': ...}}, ...]
```

## Try it

{_try_it_section(model_id, demo_space)}

## Training

- Data: {dataset_description}.
- Recipe: AdamW, learning rate {training["learning_rate"]:g}, weight decay {training["weight_decay"]:g} on
  conv and linear weights only, batch size {training["batch_size"]} per process x {training["num_processes"]}
  process(es) x {training["gradient_accumulation_steps"]} accumulation step(s), {training["num_epochs"]} epochs
  ({training["warmup_epochs"]:g} of linear warm-up, then cosine, stepped per iteration; {training["total_updates"]}
  optimizer steps), gradient-norm clipping {training["max_grad_norm"]:g}, weight EMA {training["ema_decay"]:g}
  (the EMA weights are the released ones), seed {training["seed"]}, mixed precision
  {training["mixed_precision"] or "as launched"}.
- Training crops: 90-100 % of each sequence, events kept when at least half inside, as UnAV.
- Preset `{training["preset"]}`{f", model overrides `{training['model_overrides']}`" if training.get("model_overrides") else ""}.

## Evaluation

{_results_section(test_metrics, validation_average_map)}

## Citation

```bibtex
{LOCO_CITATION}
```
"""
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n{body}")
