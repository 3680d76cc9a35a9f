# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""The `audio-visual-event-localization` pipeline of LoCo (Xing et al., arXiv 2409.07967).

`AudioVisualEventLocalizationPipeline` wires the three saved parts of a checkpoint together: the feature extractor
aligns and pads the pre-extracted features, the model scores every (point, class) pair, and
`LocoFeatureExtractor.post_process_event_localization` decodes them into events in seconds (soft-NMS included).
The pipeline itself only validates the input and formats the output:

    >>> from transformers import pipeline
    >>> localizer = pipeline(model="path/or/repo-id", trust_remote_code=True)  # doctest: +SKIP
    >>> localizer({"visual_features": "video_visual.npy", "audio_features": "video_audio.npy"})  # doctest: +SKIP
    [{'label': 'dog barking', 'start': 1.28, 'end': 4.16, 'score': 0.71}, ...]

The module is Hub-portable: it imports numpy, torch, transformers and, relatively, the feature extractor. Every
save of a `LocoForEventLocalization` (`save_pretrained`, `push_to_hub`, `save_pipeline`, `pipe.save_pretrained`)
copies it next to the weights and records it under `custom_pipelines` in `config.json`, so
`pipeline(model=..., trust_remote_code=True)` finds it without loco-hf installed. The task registers itself in
transformers' `PIPELINE_REGISTRY` when this module is imported (unless the task is already registered, e.g. by
loco-hf when a checkpoint's copy is loaded next to the installed package).

Time is in seconds everywhere here; the model works in feature steps, and the feature extractor converts.
"""

import math
import os
from types import SimpleNamespace

import numpy as np
import torch
from transformers import AutoModel, Pipeline, pipeline
from transformers.pipelines import PIPELINE_REGISTRY
from transformers.utils import logging

from .feature_extraction_loco import LocoFeatureExtractor

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")

__all__ = [
    "DEFAULT_THRESHOLD",
    "TASK",
    "AudioVisualEventLocalizationPipeline",
    "custom_pipelines_entry",
    "load_pipeline",
    "round_events",
    "save_pipeline",
]

TASK = "audio-visual-event-localization"
# How the task is registered. The model class must live in the transformers namespace: a checkpoint records its name
# and the loader looks it up there; AutoModel resolves to LocoForEventLocalization through the config's auto_map.
_PIPELINE_MODEL_CLASS = AutoModel
_PIPELINE_TYPE = "multimodal"
# Default score threshold of the returned events: post-processing keeps up to `max_detections` (100) events per
# video down to a score of 0.001, which the mAP needs but a reader does not; 0.1 drops the soft-NMS leftovers.
DEFAULT_THRESHOLD = 0.1

_FEATURE_KEYS = ("visual_features", "audio_features")
# Keys of a dataset row (see the dataset schema in docs/data.md) that the pipeline accepts: the time grid is checked
# against the feature extractor's, the annotations are ignored, so rows of a loco-hf dataset can be passed as they are.
_GRID_KEYS = ("fps", "feature_stride", "feature_window")
_IGNORED_KEYS = ("segments", "labels")
_ALLOWED_KEYS = (*_FEATURE_KEYS, "duration", "video_id", *_GRID_KEYS, *_IGNORED_KEYS)
# A given duration may disagree with the feature length by this many steps before a warning (extraction tools round
# the last window differently).
_LENGTH_TOLERANCE_STEPS = 2


def _video_name(inputs: dict) -> str:
    video_id = inputs.get("video_id")
    return f"video {video_id!r}" if video_id is not None else "the video (no video_id given)"


def _load_features(value, field: str, name: str):
    """Returns one video's (T, D) features: an array or tensor as it is, nested lists as an array, a `.npy` path
    loaded without pickles. Anything but two dimensions is an error (the feature extractor would read a 3-D array
    as a batch of videos)."""
    features = _read_features(value, field, name)
    if len(features.shape) != 2:
        raise ValueError(
            f"{field} of {name} must have shape (T, {field.split('_')[0]}_dim), one video, got {tuple(features.shape)}."
        )
    return features


def _read_features(value, field: str, name: str):
    if isinstance(value, (str, os.PathLike)):
        path = os.fspath(value)
        if not os.path.isfile(path):
            raise ValueError(f"{field} of {name}: no such .npy file {path!r}.")
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ValueError(f"{field} of {name}: {path!r} is not a readable .npy array ({error}).") from None
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value
    if isinstance(value, (list, tuple)):
        # Nested lists (a dataset row in Python format) are one (T, D) video; the feature extractor would read a
        # list as a batch of videos.
        try:
            return np.asarray(value, dtype=np.float32)
        except ValueError as error:
            raise ValueError(
                f"{field} of {name} is not a rectangular (T, D) array of numbers ({error})."
            ) from None
    raise ValueError(
        f"{field} of {name} must be a (T, D) numpy array, a torch tensor or the path of a .npy file, "
        f"got {type(value).__name__}."
    )


def _num_steps(inputs) -> int:
    """Steps of one input dict's video, read without loading a `.npy` file's data; 0 where the input is not a
    well-formed video (preprocess then names the problem)."""
    if not isinstance(inputs, dict):
        return 0
    lengths = []
    for key in _FEATURE_KEYS:
        value = inputs.get(key)
        if isinstance(value, (str, os.PathLike)):
            try:
                value = np.load(os.fspath(value), mmap_mode="r", allow_pickle=False)
            except (ValueError, OSError):
                return 0
        try:
            lengths.append(len(value))
        except TypeError:
            return 0
    return min(lengths)


def _order_by_length(inputs: list) -> list[int]:
    """Indices of `inputs` (the pipeline's input dicts) sorted by video length, stable for equal lengths."""
    lengths = [_num_steps(video) for video in inputs]
    return sorted(range(len(inputs)), key=lengths.__getitem__)


class AudioVisualEventLocalizationPipeline(Pipeline):
    r"""
    Dense audio-visual event localization from pre-extracted features: which events happen in a video, and when.

    Input: one video as a dict, or a list of such dicts (then the output is a list, one entry per video):

    - "visual_features": `np.ndarray`, `torch.Tensor` or nested lists of shape `(T, visual_dim)`, or the path of a
      `.npy` file;
    - "audio_features": the same with `audio_dim` channels (both streams are cut to their common length T);
    - "duration" (`float`, *optional*): video length in seconds; events are clipped to [0, duration]. By default the
      end of the last feature's window: ((T - 1) * feature_stride + feature_window) / fps;
    - "video_id" (`str`, *optional*): named in error messages.

    Rows of a loco-hf dataset (synthetic or UnAV-100) are accepted as they are: their "fps", "feature_stride" and
    "feature_window" must match the feature extractor's, and "segments" and "labels" are ignored. To stream a
    `datasets.Dataset`, pass a generator of its rows, `(row for row in dataset)`.

    Output per video: a list of `{"label": str, "start": float, "end": float, "score": float}` (times in seconds),
    sorted by start time (then end time, then descending score). With `return_duration=True`, a dict
    `{"duration": float, "events": [...]}` instead, where "duration" is the video's length in seconds: the given
    one, or the default above computed from the features.

    Call parameters:
        threshold (`float`, default 0.1): keep events whose score (after soft-NMS) is at least this. 0 returns every
            event of the post-processing (at most `feature_extractor.max_detections`, down to its `min_score`),
            which is what the mAP evaluation uses.
        top_k (`int`, *optional*): keep at most this many events per video, the highest scores first (applied
            before the sort by time); it also replaces `feature_extractor.max_detections` for the call, so it may
            exceed 100.
        return_duration (`bool`, default False): return `{"duration", "events"}` per video, as above, so that a
            caller drawing or reporting the events needs not reload the features to recover the duration.

    All other post-processing settings (soft-NMS sigma, pre-NMS top-k, ...) are attributes of the feature extractor,
    saved in `preprocessor_config.json`. A checkpoint saved without one (`model.save_pretrained` or
    `model.push_to_hub` alone) gets the feature extractor that matches the model's configuration, with the default
    post-processing settings, and a warning says so.
    """

    # None: load the feature extractor when the checkpoint has one, else build it in __init__.
    _load_feature_extractor = None
    _load_tokenizer = False
    _load_image_processor = False
    _load_processor = False
    _load_video_processor = False

    def __init__(self, model, feature_extractor=None, **kwargs):
        if feature_extractor is None:
            feature_extractor = LocoFeatureExtractor.from_model_config(model.config)
            logger.warning(
                "No feature extractor was given or could be loaded for %s; using the one that matches its "
                "configuration (time grid, classes) with the default post-processing settings. Save the feature "
                "extractor next to the model (`feature_extractor.save_pretrained` or `push_to_hub`) to keep others.",
                model.name_or_path or type(model).__name__,
            )
        super().__init__(model, feature_extractor=feature_extractor, **kwargs)
        # The two files of a checkpoint (preprocessor_config.json, config.json) must describe the same features,
        # time grid and classes: otherwise every event time or label would silently be wrong.
        self.feature_extractor.check_model_config(self.model.config)

    def __call__(self, inputs, **kwargs):
        """Localizes the events of one video (a dict) or of each video of a list or generator; `[]` gives `[]`.

        With `batch_size` > 1 a list is run in order of length, so that a batch holds videos of similar length and
        is padded only to its longest (the results come back in the list's order); a generator is run as it comes.
        """
        if isinstance(inputs, list) and not inputs:
            return []
        batch_size = kwargs.get("batch_size") or self._batch_size or 1
        if not isinstance(inputs, list) or batch_size == 1:
            return super().__call__(inputs, **kwargs)
        order = _order_by_length(inputs)
        results = super().__call__([inputs[index] for index in order], **kwargs)
        in_input_order = [None] * len(inputs)
        for result, index in zip(results, order, strict=True):
            in_input_order[index] = result
        return in_input_order

    def _sanitize_parameters(self, threshold=None, top_k=None, return_duration=None, **kwargs):
        if kwargs:
            raise ValueError(
                f"Unknown parameters {sorted(kwargs)} for the {TASK} pipeline; it takes `threshold`, `top_k` and "
                "`return_duration` (other post-processing settings are attributes of its feature_extractor)."
            )
        postprocess_params = {}
        if return_duration is not None:
            if not isinstance(return_duration, bool):
                raise ValueError(f"return_duration must be True or False, got {return_duration!r}.")
            postprocess_params["return_duration"] = return_duration
        if threshold is not None:
            if (
                isinstance(threshold, bool)
                or not isinstance(threshold, (int, float))
                or not 0 <= threshold <= 1
            ):
                raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}.")
            postprocess_params["threshold"] = float(threshold)
        if top_k is not None:
            if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k <= 0:
                raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}.")
            postprocess_params["top_k"] = int(top_k)
        return {}, {}, postprocess_params

    def default_duration(self, num_steps: int) -> float:
        """Seconds covered by `num_steps` features: the end of the last window, ((T-1) * stride + window) / fps."""
        extractor = self.feature_extractor
        return float(
            extractor.steps_to_seconds(num_steps - 1) + extractor.feature_window / (2 * extractor.fps)
        )

    def preprocess(self, inputs) -> dict:
        """
        Validates one video's input dict and runs the feature extractor on it.

        Returns:
            `dict` with visual_features `(1, T', visual_dim)`, audio_features `(1, T', audio_dim)`, attention_mask
            `(1, T')` (T' padded to a multiple of the largest stride, or as UnAV pads under `reference_padding`)
            and durations `(1,)` in seconds.
        """
        if not isinstance(inputs, dict):
            raise ValueError(
                f"The {TASK} pipeline takes a dict with 'visual_features' and 'audio_features' (arrays or .npy "
                f"paths) and an optional 'duration' in seconds, or a list of such dicts; got {type(inputs).__name__}."
            )
        name = _video_name(inputs)
        unknown = sorted(set(inputs) - set(_ALLOWED_KEYS))
        if unknown:
            raise ValueError(
                f"Unknown keys {unknown} in the input of {name}; accepted keys: {list(_ALLOWED_KEYS)}."
            )
        missing = [key for key in _FEATURE_KEYS if inputs.get(key) is None]
        if missing:
            raise ValueError(f"The input of {name} lacks {missing}.")
        extractor = self.feature_extractor
        for key in _GRID_KEYS:
            if key in inputs and not math.isclose(float(inputs[key]), float(getattr(extractor, key))):
                raise ValueError(
                    f"{key} of {name} is {inputs[key]}, but the model's features use {key}={getattr(extractor, key)}."
                )
        visual = _load_features(inputs["visual_features"], "visual_features", name)
        audio = _load_features(inputs["audio_features"], "audio_features", name)
        video_ids = [str(inputs["video_id"])] if inputs.get("video_id") is not None else None
        # Padded only to a multiple of the largest stride: batches are then padded to their longest video, and a
        # video's outputs do not depend on either (except under reference_padding, which needs UnAV's padding).
        padding = "max_length" if extractor.reference_padding else "longest"
        model_inputs = extractor(visual, audio, return_tensors="pt", video_ids=video_ids, padding=padding)
        num_steps = int(model_inputs["attention_mask"].sum())

        duration = inputs.get("duration")
        if duration is None:
            duration = self.default_duration(num_steps)
        else:
            if isinstance(duration, (np.ndarray, torch.Tensor)) and len(duration.shape) == 0:
                duration = duration.item()
            if isinstance(duration, bool) or not isinstance(duration, (int, float, np.number)):
                raise ValueError(f"duration of {name} must be a number of seconds, got {duration!r}.")
            duration = float(duration)
            if not (math.isfinite(duration) and duration > 0):
                raise ValueError(
                    f"duration of {name} must be a positive, finite number of seconds, got {duration}."
                )
            # The last feature whose window ends inside the video is centred half a window before its end.
            last_centre = duration - extractor.feature_window / (2 * extractor.fps)
            expected_steps = max(math.floor(extractor.seconds_to_steps(last_centre)) + 1, 1)
            if num_steps - expected_steps > _LENGTH_TOLERANCE_STEPS:
                # Every event would be clipped to [0, duration], most of them to zero length.
                raise ValueError(
                    f"duration of {name} is {duration} s, but its {num_steps} feature steps cover "
                    f"{self.default_duration(num_steps):.2f} s on this time grid (fps {extractor.fps}, feature_stride "
                    f"{extractor.feature_stride}, feature_window {extractor.feature_window}): check the duration and "
                    "the features' frame rate."
                )
            if expected_steps - num_steps > _LENGTH_TOLERANCE_STEPS:
                logger.warning(
                    "%s: %d feature steps, but a %.2f s video gives %d on this time grid; check the duration and "
                    "the features' frame rate.",
                    name,
                    num_steps,
                    duration,
                    expected_steps,
                )
        model_inputs = dict(model_inputs)
        model_inputs["durations"] = torch.tensor([duration], dtype=torch.float32)
        return model_inputs

    def _forward(self, model_inputs: dict) -> dict:
        """
        Runs the model. Returns a dict of tensors whose first dimension is the batch, so that transformers can split
        batched outputs per video: logits `(B, P, C)`, segment_offsets `(B, P, C, 2)`, point_mask `(B, P)`,
        point_positions and point_strides `(B, P)` (the model's `(P,)` repeated) and durations `(B,)`.
        """
        durations = model_inputs.pop("durations")
        dtype = self.model.dtype
        inputs = {
            "visual_features": model_inputs["visual_features"].to(dtype),
            "audio_features": model_inputs["audio_features"].to(dtype),
            "attention_mask": model_inputs["attention_mask"],
        }
        # A video longer than max_seq_len runs as windows of max_seq_len steps, merged into one set of points.
        outputs = self.feature_extractor.forward_in_windows(self.model, inputs)
        batch_size, num_points = outputs.point_mask.shape
        return {
            "logits": outputs.logits,
            "segment_offsets": outputs.segment_offsets,
            "point_mask": outputs.point_mask,
            "point_positions": outputs.point_positions.expand(batch_size, num_points),  # (P,) -> (B, P)
            "point_strides": outputs.point_strides.expand(batch_size, num_points),  # (P,) -> (B, P)
            "durations": durations,
        }

    def postprocess(
        self,
        model_outputs: dict,
        threshold: float = DEFAULT_THRESHOLD,
        top_k: int | None = None,
        return_duration: bool = False,
    ):
        """
        Decodes one video's outputs with `feature_extractor.post_process_event_localization`, keeps the events
        scoring at least `threshold` (the `top_k` best when given) and sorts them by start time.

        Returns:
            `list` of `{"label", "start", "end", "score"}`, start and end in seconds; with `return_duration`,
            `{"duration": float, "events": list}`, the duration in seconds.
        """
        outputs = SimpleNamespace(
            logits=model_outputs["logits"],
            segment_offsets=model_outputs["segment_offsets"],
            point_mask=model_outputs["point_mask"],
            point_positions=model_outputs["point_positions"][0],
            point_strides=model_outputs["point_strides"][0],
        )
        overrides = {} if top_k is None else {"max_detections": top_k}
        (result,) = self.feature_extractor.post_process_event_localization(
            outputs, model_outputs["durations"], **overrides
        )
        keep = result["scores"] >= threshold
        events = [
            {"label": label, "start": float(start), "end": float(end), "score": float(score)}
            for label, (start, end), score, kept in zip(
                result["label_names"],
                result["segments"].tolist(),
                result["scores"].tolist(),
                keep.tolist(),
                strict=True,
            )  # fmt: skip
            if kept
        ]
        events = sorted(events, key=lambda event: (event["start"], event["end"], -event["score"]))
        if return_duration:
            return {"duration": float(model_outputs["durations"][0]), "events": events}
        return events


def round_events(events: list[dict], time_decimals: int = 3, score_decimals: int = 4) -> list[dict]:
    """
    The pipeline's events with start and end rounded to `time_decimals` (milliseconds by default) and the score to
    `score_decimals`, for reports meant to be read (the features' time grid is far coarser than a millisecond).

    Args:
        events (`list[dict]`): `{"label", "start", "end", "score"}` dicts, times in seconds.

    Returns:
        New dicts with the same keys, in the same order.
    """
    return [
        {
            **event,
            "start": round(event["start"], time_decimals),
            "end": round(event["end"], time_decimals),
            "score": round(event["score"], score_decimals),
        }
        for event in events
    ]


def custom_pipelines_entry() -> dict:
    """
    The `custom_pipelines` value of a checkpoint's config.json, as `Pipeline.save_pretrained` writes it: the task,
    the pipeline class as `module.Class` (this module's file is copied next to the model code) and the model class.
    `LocoForEventLocalization.save_pretrained` records it, so every saved or pushed model loads as this pipeline.
    """
    pipeline_class = AudioVisualEventLocalizationPipeline
    return {
        TASK: {
            "impl": f"{pipeline_class.__module__.rsplit('.', 1)[-1]}.{pipeline_class.__name__}",
            "pt": [_PIPELINE_MODEL_CLASS.__name__],
            "type": _PIPELINE_TYPE,
        }
    }


def save_pipeline(model, feature_extractor, save_directory, **kwargs) -> AudioVisualEventLocalizationPipeline:
    """
    Saves the model and its feature extractor in one call: the same as `model.save_pretrained(save_directory)`
    followed by `feature_extractor.save_pretrained(save_directory)`, and as the returned pipeline's `save_pretrained`.
    `transformers.pipeline(model=save_directory, trust_remote_code=True)` loads the result as an
    `AudioVisualEventLocalizationPipeline`, even where loco-hf is not installed.

    Writes the model (config.json with "auto_map" and "custom_pipelines", model.safetensors, the modeling code and a
    copy of this module) and the feature extractor (preprocessor_config.json and its code).

    Args:
        model (`LocoForEventLocalization`): the model to save.
        feature_extractor (`LocoFeatureExtractor`): its feature extractor (post-processing defaults included).
        save_directory (`str` or `os.PathLike`): created when missing.
        kwargs: passed to `Pipeline.save_pretrained` (for example `push_to_hub=True, repo_id=...`).

    Returns:
        The pipeline that was saved.
    """
    localizer = AudioVisualEventLocalizationPipeline(model=model, feature_extractor=feature_extractor)
    localizer.save_pretrained(save_directory, **kwargs)
    return localizer


def load_pipeline(model, **kwargs) -> AudioVisualEventLocalizationPipeline:
    """
    Loads a checkpoint saved by `save_pipeline` with this module's pipeline class, so that loco-hf's own code runs
    (no `trust_remote_code` needed when loco-hf is installed, since its classes are registered with the Auto
    classes).

    Args:
        model (`str` or `os.PathLike`): a directory or a Hub repo id.
        kwargs: passed to `transformers.pipeline` (for example `device`, `revision`, `dtype`).

    Returns:
        `AudioVisualEventLocalizationPipeline`.
    """
    return pipeline(
        TASK, model=os.fspath(model), pipeline_class=AudioVisualEventLocalizationPipeline, **kwargs
    )


if TASK not in PIPELINE_REGISTRY.get_supported_tasks():
    PIPELINE_REGISTRY.register_pipeline(
        TASK,
        pipeline_class=AudioVisualEventLocalizationPipeline,
        pt_model=_PIPELINE_MODEL_CLASS,
        type=_PIPELINE_TYPE,
    )
