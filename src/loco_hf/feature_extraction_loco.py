# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Feature processing and post-processing of LoCo (Xing et al., arXiv 2409.07967).

`LocoFeatureExtractor` turns pre-extracted per-step visual and audio features into padded model inputs, converts
event annotations in seconds to model labels in feature steps, and decodes model outputs back to events in seconds
(per-level top-k, segment decoding, per-class Gaussian soft-NMS, top 100 per video), as the UnAV reference does
(Geng et al., CVPR 2023). The decoding helpers are module-level pure functions.

Time: inside the model it is measured in feature steps; a step g is centred at
t = (g * feature_stride + feature_window / 2) / fps seconds (0.32 g + 0.48 s for I3D/VGGish at 25 fps).

Departures from the reference:
* Soft-NMS runs for all classes (and, inside post-processing, all videos of a batch) at once: one greedy loop of
  at most `max_detections` vectorised steps instead of one C++ loop per class. Since scores only decay, taking the
  global maximum each step picks the same events, with the same decayed scores, as per-class soft-NMS followed by
  the global top `max_detections`. The loop first runs on each video's 4 * max_detections best candidates and
  redoes a video with all of them only when a left-out candidate could have mattered (exact either way).
* Hard NMS removes a suppressed candidate outright (the reference sets its score to 0, which min_score removes).
* Annotations outside [0, duration] and segments with end <= start are errors, never silently dropped.
* A video longer than `max_seq_len` runs as overlapping windows of `max_seq_len` steps (`forward_in_windows`), whose
  points are merged before one post-processing; the reference runs it whole, in memory quadratic in its length.

Shape letters: B videos, T steps, P points (all pyramid levels, level-major), C classes, N candidates,
M detections kept per video.
"""

import itertools
import math
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import torch
from transformers import BatchFeature, FeatureExtractionMixin
from transformers.utils import logging

from .configuration_loco import LocoConfig, check_max_seq_len

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")

__all__ = ["LocoFeatureExtractor", "decode_segments", "seconds_to_steps", "soft_nms_1d", "steps_to_seconds"]

NMS_METHODS = ("soft", "hard")
# Added to each segment length inside the NMS IoU, as in the reference, so zero-length segments never divide by 0.
_NMS_LENGTH_EPSILON = 1e-6
# Annotations may exceed [0, duration] by this much (seconds): float32 storage of both can round them apart.
_ANNOTATION_TOLERANCE_SECONDS = 1e-4


# ---------------------------------------------------------------------------------------------------------------------
# Time mapping and decoding (pure functions)
# ---------------------------------------------------------------------------------------------------------------------


def _check_time_grid(fps: float, feature_stride: float, feature_window: float):
    if not fps > 0 or not feature_stride > 0 or not feature_window >= 0:
        raise ValueError(
            f"The time grid needs fps > 0, feature_stride > 0 and feature_window >= 0, got fps={fps}, "
            f"feature_stride={feature_stride}, feature_window={feature_window}."
        )


def seconds_to_steps(seconds, fps: float, feature_stride: float, feature_window: float):
    """
    Converts times in seconds to positions on the feature grid: g = (t * fps - feature_window / 2) / feature_stride.

    For I3D/VGGish features (fps 25, stride 8, window 24 frames) this is g = 3.125 t - 1.5, so 0 s maps to -1.5 steps.

    Args:
        seconds (`float`, `np.ndarray` or `torch.Tensor` of any shape): times, in seconds. A list is read as an array.
        fps (`float`): frame rate of the feature extraction, in frames per second.
        feature_stride (`float`): hop between two features, in frames.
        feature_window (`float`): frames covered by one feature.

    Returns:
        The same type and shape as `seconds` (floating point): positions in feature steps.
    """
    _check_time_grid(fps, feature_stride, feature_window)
    if isinstance(seconds, (list, tuple)):
        seconds = np.asarray(seconds, dtype=np.float64)
    return (seconds * fps - feature_window / 2) / feature_stride


def steps_to_seconds(steps, fps: float, feature_stride: float, feature_window: float):
    """
    Converts positions on the feature grid to times in seconds: t = (g * feature_stride + feature_window / 2) / fps.

    For I3D/VGGish features (fps 25, stride 8, window 24 frames) this is t = 0.32 g + 0.48, so step 0 is at 0.48 s.

    Args:
        steps (`float`, `np.ndarray` or `torch.Tensor` of any shape): positions, in feature steps. A list is read as
            an array.
        fps (`float`): frame rate of the feature extraction, in frames per second.
        feature_stride (`float`): hop between two features, in frames.
        feature_window (`float`): frames covered by one feature.

    Returns:
        The same type and shape as `steps` (floating point): times in seconds.
    """
    _check_time_grid(fps, feature_stride, feature_window)
    if isinstance(steps, (list, tuple)):
        steps = np.asarray(steps, dtype=np.float64)
    return (steps * feature_stride + feature_window / 2) / fps


def decode_segments(
    point_positions: torch.Tensor, point_strides: torch.Tensor, segment_offsets: torch.Tensor
) -> torch.Tensor:
    """
    Decodes regression outputs into segments: start = position - left * stride, end = position + right * stride.

    Args:
        point_positions (`torch.FloatTensor` of shape `(...)`): position of each point, in steps.
        point_strides (`torch.FloatTensor` of shape `(...)`): stride of each point's pyramid level, in steps.
        segment_offsets (`torch.FloatTensor` of shape `(..., 2)`): (left, right) distances in units of the stride.

    Returns:
        `torch.FloatTensor` of shape `(..., 2)`: (start, end) of each segment, in steps.
    """
    starts = point_positions - segment_offsets[..., 0] * point_strides
    ends = point_positions + segment_offsets[..., 1] * point_strides
    return torch.stack((starts, ends), dim=-1)


def _check_nms_arguments(
    method: str, sigma: float, iou_threshold: float, min_score: float, max_detections: int
):
    if method not in NMS_METHODS:
        raise ValueError(f"The NMS method (nms_method) must be one of {NMS_METHODS}, got {method!r}.")
    if not sigma > 0:
        raise ValueError(f"The soft-NMS sigma (nms_sigma) must be > 0, got {sigma}.")
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"The NMS IoU threshold (nms_iou_threshold) must be in (0, 1], got {iou_threshold}.")
    if not math.isfinite(min_score):
        raise ValueError(f"min_score must be finite, got {min_score}.")
    if not isinstance(max_detections, int) or max_detections <= 0:
        raise ValueError(f"max_detections must be a positive integer, got {max_detections!r}.")


def _greedy_nms_1d(
    segments: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    sigma: float,
    min_score: float,
    max_detections: int,
    method: str,
    iou_threshold: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The greedy loop of `_batched_nms_1d` over all the candidates it is given (same arguments and returns)."""
    batch_size, num_candidates = scores.shape
    num_kept = min(max_detections, num_candidates)
    kept_indices = torch.zeros(batch_size, num_kept, dtype=torch.long, device=scores.device)
    kept_scores = torch.full((batch_size, num_kept), -math.inf, dtype=scores.dtype, device=scores.device)
    starts, ends = segments[..., 0], segments[..., 1]  # (B, N) each
    lengths = ends - starts + _NMS_LENGTH_EPSILON
    remaining = scores  # (B, N); -inf = removed
    rows = torch.arange(batch_size, device=scores.device)
    for step in range(num_kept):
        best_scores, best = remaining.max(dim=1)  # (B,)
        if not bool(torch.isfinite(best_scores).any()):
            break
        kept_indices[:, step] = best
        kept_scores[:, step] = best_scores
        # IoU of every video's pick with all of its candidates; candidates of other classes are unaffected.
        best_starts, best_ends = starts[rows, best, None], ends[rows, best, None]  # (B, 1) each
        intersections = (torch.minimum(ends, best_ends) - torch.maximum(starts, best_starts)).clamp(min=0)
        ious = intersections / (lengths + lengths[rows, best, None] - intersections)  # (B, N)
        same_class = labels == labels[rows, best, None]  # (B, N)
        if method == "soft":
            remaining = remaining * torch.exp(-ious.square() / sigma).masked_fill(~same_class, 1.0)
        else:
            remaining = remaining.masked_fill(same_class & (ious >= iou_threshold), -math.inf)
        remaining[rows, best] = -math.inf
        remaining = remaining.masked_fill(remaining < min_score, -math.inf)
    return kept_indices, kept_scores


def _batched_nms_1d(
    segments: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    sigma: float,
    min_score: float,
    max_detections: int,
    method: str,
    iou_threshold: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Per-class NMS of a batch of videos, vectorised over videos, candidates and classes.

    Greedy: each step takes, in every video, the remaining candidate of highest (decayed) score, then updates the
    other remaining candidates of its class: Gaussian decay score * exp(-IoU^2 / sigma) ("soft") or removal when
    IoU >= iou_threshold ("hard"); candidates whose score falls below `min_score` are removed. Scores only decay,
    so the picks come out in descending order and equal per-class NMS followed by the top `max_detections`.

    Shortcut (exact): a candidate whose initial score is below the last kept score can never be picked, and only
    picks decay others, so leaving it out changes nothing. The loop first runs on the 4 * max_detections highest
    initial scores of each video; videos where a left-out candidate scores above their last kept one are redone
    with all candidates.

    Args:
        segments (`torch.FloatTensor` of shape `(B, N, 2)`): candidate (start, end), in steps.
        scores (`torch.FloatTensor` of shape `(B, N)`): candidate scores; `-inf` marks padding (no candidate).
        labels (`torch.LongTensor` of shape `(B, N)`): candidate classes.

    Returns:
        indices (`torch.LongTensor` of shape `(B, M)`) of the kept candidates and their decayed scores
        (`torch.FloatTensor` of shape `(B, M)`), in descending order of score; M = min(max_detections, N). A video
        with fewer detections has `-inf` scores (and meaningless indices) after its last one.
    """
    nms_settings = (sigma, min_score, max_detections, method, iou_threshold)
    scores = torch.where(scores >= min_score, scores, -math.inf)  # (B, N); NaN and low scores -> -inf
    num_candidates = scores.shape[1]
    subset_size = 4 * max_detections
    if subset_size >= num_candidates:
        return _greedy_nms_1d(segments, scores, labels, *nms_settings)

    top_scores, top = scores.topk(subset_size + 1, dim=1)  # (B, S + 1), descending
    best_left_out, top_scores, top = (
        top_scores[:, -1],
        top_scores[:, :-1],
        top[:, :-1],
    )  # (B,), (B, S), (B, S)
    top_segments = torch.gather(segments, 1, top[..., None].expand(-1, -1, 2))  # (B, S, 2)
    kept, kept_scores = _greedy_nms_1d(top_segments, top_scores, torch.gather(labels, 1, top), *nms_settings)
    kept = torch.gather(top, 1, kept)  # subset indices -> candidate indices, (B, M)
    exact = (kept_scores[:, -1] > best_left_out) | (
        best_left_out == -math.inf
    )  # (B,); -inf: nothing left out
    redo = torch.nonzero(~exact).flatten()
    if len(redo):
        kept[redo], kept_scores[redo] = _greedy_nms_1d(
            segments[redo], scores[redo], labels[redo], *nms_settings
        )
    return kept, kept_scores


def soft_nms_1d(
    segments: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    sigma: float = 0.4,
    min_score: float = 0.001,
    max_detections: int = 100,
    method: str = "soft",
    iou_threshold: float = 0.7,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Per-class 1-D non-maximum suppression of one video's candidate events (Gaussian soft-NMS by default).

    Equivalent to the UnAV reference: for each class, repeatedly take the remaining candidate of highest score and
    decay every other remaining candidate j of that class by exp(-IoU(i, j)^2 / sigma) ("soft"), or remove it when
    IoU >= iou_threshold ("hard"); remove candidates whose score is below `min_score` (initial scores included);
    then merge the classes and keep the `max_detections` highest decayed scores. IoU adds 1e-6 to each length.
    Vectorised: at most `max_detections` steps, each over all candidates and classes at once.

    Args:
        segments (`torch.FloatTensor` of shape `(N, 2)`): candidate (start, end), in any time unit.
        scores (`torch.FloatTensor` of shape `(N,)`): candidate scores.
        labels (`torch.LongTensor` of shape `(N,)`): candidate classes; different classes never suppress each other.
        sigma (`float`, default 0.4): Gaussian decay width ("soft" only).
        min_score (`float`, default 0.001): candidates below this score are removed.
        max_detections (`int`, default 100): most events kept.
        method (`str`, default "soft"): "soft" (Gaussian decay) or "hard" (removal above `iou_threshold`).
        iou_threshold (`float`, default 0.7): IoU from which "hard" removes a candidate.

    Returns:
        `(segments, scores, labels)` of the kept events, shapes `(k, 2)`, `(k,)` and `(k,)`, sorted by descending
        decayed score.
    """
    _check_nms_arguments(method, sigma, iou_threshold, min_score, max_detections)
    if segments.ndim != 2 or segments.shape[-1] != 2:
        raise ValueError(f"segments must have shape (N, 2), got {tuple(segments.shape)}.")
    if scores.shape != segments.shape[:1] or labels.shape != segments.shape[:1]:
        raise ValueError(
            f"scores and labels must have shape ({segments.shape[0]},) like segments, got "
            f"{tuple(scores.shape)} and {tuple(labels.shape)}."
        )
    if bool((segments[:, 1] < segments[:, 0]).any()):
        raise ValueError("segments must have end >= start.")
    kept_indices, kept_scores = _batched_nms_1d(
        segments[None], scores[None], labels[None], sigma, min_score, max_detections, method, iou_threshold
    )
    num_kept = int(torch.isfinite(kept_scores[0]).sum())
    kept_indices = kept_indices[0, :num_kept]
    return segments[kept_indices], kept_scores[0, :num_kept], labels[kept_indices]


# ---------------------------------------------------------------------------------------------------------------------
# Sliding windows over long videos (pure functions)
# ---------------------------------------------------------------------------------------------------------------------


def window_starts(num_steps: int, window_steps: int, hop_steps: int, align_steps: int) -> list[int]:
    """
    First steps of the sliding windows that cover a video: 0, hop, 2 hop, ..., then one window ending at the video's
    end (its start rounded up to a multiple of `align_steps`). One window, starting at 0, when the video fits in one.

    Args:
        num_steps (`int`): valid steps of the video.
        window_steps (`int`): steps per window (the model's `max_seq_len`).
        hop_steps (`int`): steps between two window starts, a positive multiple of `align_steps`.
        align_steps (`int`): every start is a multiple of it (the largest pyramid stride), so the points of all
            windows lie on the grid of one whole-video pass.

    Returns:
        `list[int]`: window starts, in steps, increasing; window i covers [start_i, start_i + window_steps).
    """
    if num_steps <= window_steps:
        return [0]
    last = -(-(num_steps - window_steps) // align_steps) * align_steps
    return [*range(0, last, hop_steps), last]


def window_core_bounds(starts: list[int], window_steps: int, align_steps: int) -> list[tuple[float, float]]:
    """
    The part of each window whose points are kept when windows are merged: from the middle of its overlap with the
    previous window to the middle of its overlap with the next one (rounded down to a multiple of `align_steps`),
    so that every point of the video is taken once, from the window where it sees the most context around it.

    Args:
        starts (`list[int]`): window starts from `window_starts`, in steps.
        window_steps (`int`), align_steps (`int`): as for `window_starts`.

    Returns:
        `list` of `(low, high)` per window, in steps of the whole video: the window keeps points with
        low <= position < high (the first starts at -inf, the last ends at +inf).
    """
    middles = [
        (current + window_steps + following) // (2 * align_steps) * align_steps
        for current, following in itertools.pairwise(starts)
    ]
    return list(zip([-math.inf, *middles], [*middles, math.inf], strict=True))


def merge_window_outputs(window_outputs: Sequence, starts: list[int], window_steps: int, align_steps: int):
    """
    Merges the model outputs of the sliding windows of a batch into the outputs of one pass over whole videos: points
    move to whole-video positions and each window keeps only the points of its core (`window_core_bounds`), so the
    merged set holds every point once and `post_process_event_localization` decodes and suppresses it as a whole.

    Args:
        window_outputs (`Sequence`): per window, model outputs with logits `(B, P_i, C)`, segment_offsets
            `(B, P_i, C, 2)`, point_positions `(P_i,)` (in steps of the window), point_strides `(P_i,)` and
            point_mask `(B, P_i)`.
        starts (`list[int]`): the windows' starts, in steps of the whole video.
        window_steps (`int`), align_steps (`int`): as for `window_starts`.

    Returns:
        `SimpleNamespace` with the same five fields over all windows' points, P = sum of P_i: point_positions in
        steps of the whole video, point_mask false outside each window's core.
    """
    logits, offsets, positions, strides, masks = [], [], [], [], []
    for outputs, start, (low, high) in zip(
        window_outputs, starts, window_core_bounds(starts, window_steps, align_steps), strict=True
    ):
        window_positions = outputs.point_positions + start  # (P_i,) window steps -> video steps
        in_core = (window_positions >= low) & (window_positions < high)  # (P_i,)
        logits.append(outputs.logits)
        offsets.append(outputs.segment_offsets)
        positions.append(window_positions)
        strides.append(outputs.point_strides)
        masks.append(outputs.point_mask & in_core[None])  # (B, P_i)
    return SimpleNamespace(
        logits=torch.cat(logits, dim=1),  # (B, P, C)
        segment_offsets=torch.cat(offsets, dim=1),  # (B, P, C, 2)
        point_positions=torch.cat(positions),  # (P,)
        point_strides=torch.cat(strides),  # (P,)
        point_mask=torch.cat(masks, dim=1),  # (B, P)
    )


# ---------------------------------------------------------------------------------------------------------------------
# Feature extractor
# ---------------------------------------------------------------------------------------------------------------------


def _video_name(index: int, video_ids: Sequence[str] | None) -> str:
    return f"video {video_ids[index]!r} (index {index})" if video_ids is not None else f"video {index}"


def _as_video_list(features, field: str) -> list:
    """One video (T, D) or a batch ((B, T, D) or a list of (T, D)) -> list of per-video array-likes."""
    if isinstance(features, (np.ndarray, torch.Tensor)):
        if features.ndim == 2:
            return [features]
        if features.ndim == 3:
            return list(features)
        raise ValueError(
            f"{field} must be one video of shape (T, D), a batch (B, T, D) or a list of (T, D) videos, "
            f"got an array of shape {tuple(features.shape)}."
        )
    if isinstance(features, (list, tuple)):
        return list(features)
    raise ValueError(
        f"{field} must be a numpy array, a torch tensor or a list of them, got {type(features).__name__}."
    )


def _video_array(features, field: str, expected_dim: int, name: str) -> np.ndarray:
    """Checks one video's features and returns them as a float32 array (T, D)."""
    if isinstance(features, torch.Tensor):
        array = features.detach().to("cpu", torch.float32).numpy()
    else:
        try:
            array = np.asarray(features, dtype=np.float32)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"{field} of {name} is not a rectangular (T, D) array of numbers: {error}"
            ) from None
    if array.ndim != 2:
        raise ValueError(f"{field} of {name} must have shape (T, D), got shape {array.shape}.")
    if array.shape[1] != expected_dim:
        raise ValueError(
            f"{field} of {name} has {array.shape[1]} channels, but this extractor expects {expected_dim}."
        )
    if array.shape[0] == 0:
        raise ValueError(f"{field} of {name} has no steps (shape {array.shape}).")
    if not np.isfinite(array).all():
        raise ValueError(f"{field} of {name} contains NaN or infinite values.")
    return array


class LocoFeatureExtractor(FeatureExtractionMixin):
    r"""
    Prepares LoCo inputs and decodes LoCo outputs.

    Calling it aligns the visual and audio features of each video (both truncated to their common length, as the
    UnAV reference does), right-pads them and builds the attention mask. `annotations_to_labels` converts events in
    seconds to model labels in steps; `post_process_event_localization` decodes model outputs into events in seconds.
    Everything below is saved in `preprocessor_config.json`.

    Args:
        visual_dim (`int`, default 2048): channels of a visual feature.
        audio_dim (`int`, default 128): channels of an audio feature.
        max_seq_len (`int`, default 224): training length, in steps; a multiple of `max_stride`.
        max_stride (`int`, default 32): largest pyramid stride, in steps; inference lengths are padded to a multiple.
        fps (`float`, default 25.0): frame rate of the feature extraction, in frames per second.
        feature_stride (`int`, default 8): hop between two features, in frames.
        feature_window (`int`, default 24): frames covered by one feature.
        id2label (`dict[int, str]`, default: the 100 UnAV-100 classes): class names by id.
        padding_value (`float`, default 0.0): feature value of padded steps.
        pre_nms_threshold (`float`, default 0.001): per level, candidates need a score above this.
        pre_nms_top_k (`int`, default 2000): per level, most candidates kept (highest scores).
        min_segment_steps (`float`, default 0.05): candidates this long or shorter (in steps) are dropped.
        nms_method (`str`, default "soft"): "soft" (Gaussian soft-NMS) or "hard" NMS, per class.
        nms_sigma (`float`, default 0.4): Gaussian soft-NMS decay width.
        nms_iou_threshold (`float`, default 0.7): IoU from which hard NMS removes a candidate (hard only).
        min_score (`float`, default 0.001): candidates whose (decayed) score falls below this are removed.
        max_detections (`int`, default 100): events kept per video.
        reference_padding (`bool`, default False): the model handles padded steps as the UnAV code does (its
            config's `reference_padding`, set for converted UnAV checkpoints), so its outputs depend on the amount
            of padding: only UnAV's padding ("max_length") is accepted.
        sliding_window (`bool`, default True): `forward_in_windows` runs a video longer than `max_seq_len` as
            overlapping windows of `max_seq_len` steps, so memory and time grow linearly with its length rather than
            quadratically (the model's attention is dense); False runs it whole.
        window_overlap_steps (`int`, *optional*): steps shared by two consecutive windows, a multiple of
            `max_stride`; by default a quarter of `max_seq_len` rounded up to `max_stride` (64 of 224).
    """

    model_input_names = ["visual_features", "audio_features", "attention_mask"]

    def __init__(
        self,
        visual_dim: int = 2048,
        audio_dim: int = 128,
        max_seq_len: int = 224,
        max_stride: int = 32,
        fps: float = 25.0,
        feature_stride: int = 8,
        feature_window: int = 24,
        id2label: dict[int, str] | None = None,
        padding_value: float = 0.0,
        pre_nms_threshold: float = 0.001,
        pre_nms_top_k: int = 2000,
        min_segment_steps: float = 0.05,
        nms_method: str = "soft",
        nms_sigma: float = 0.4,
        nms_iou_threshold: float = 0.7,
        min_score: float = 0.001,
        max_detections: int = 100,
        reference_padding: bool = False,
        sliding_window: bool = True,
        window_overlap_steps: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for field, value in (
            ("visual_dim", visual_dim),
            ("audio_dim", audio_dim),
            ("max_seq_len", max_seq_len),
            ("max_stride", max_stride),
            ("pre_nms_top_k", pre_nms_top_k),
        ):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"LocoFeatureExtractor.{field} must be a positive integer, got {value!r}.")
        check_max_seq_len(max_seq_len, max_stride, "LocoFeatureExtractor")
        _check_time_grid(fps, feature_stride, feature_window)
        _check_nms_arguments(nms_method, nms_sigma, nms_iou_threshold, min_score, max_detections)
        if id2label is None:
            # The default model's classes (the UnAV-100 ones), so the default extractor matches LocoConfig().
            id2label = LocoConfig().id2label
        if not id2label:
            raise ValueError("LocoFeatureExtractor.id2label must name at least one class.")
        self.visual_dim = visual_dim
        self.audio_dim = audio_dim
        self.max_seq_len = max_seq_len
        self.max_stride = max_stride
        self.fps = float(fps)
        self.feature_stride = feature_stride
        self.feature_window = feature_window
        # JSON turns the integer keys into strings; turn them back.
        self.id2label = {int(label_id): str(name) for label_id, name in id2label.items()}
        self.padding_value = float(padding_value)
        self.pre_nms_threshold = float(pre_nms_threshold)
        self.pre_nms_top_k = pre_nms_top_k
        self.min_segment_steps = float(min_segment_steps)
        self.nms_method = nms_method
        self.nms_sigma = float(nms_sigma)
        self.nms_iou_threshold = float(nms_iou_threshold)
        self.min_score = float(min_score)
        self.max_detections = max_detections
        self.reference_padding = bool(reference_padding)
        if window_overlap_steps is None:
            # A quarter of the window, rounded up to the largest stride, leaving a hop of at least one stride.
            quarter = -(-max_seq_len // (4 * max_stride)) * max_stride
            window_overlap_steps = min(quarter, max_seq_len - max_stride)
        if (
            isinstance(window_overlap_steps, bool)
            or not isinstance(window_overlap_steps, int)
            or not 0 <= window_overlap_steps < max_seq_len
            or window_overlap_steps % max_stride
        ):
            raise ValueError(
                f"LocoFeatureExtractor.window_overlap_steps must be a multiple of max_stride ({max_stride}) in "
                f"[0, max_seq_len) = [0, {max_seq_len}), got {window_overlap_steps!r}."
            )
        self.sliding_window = bool(sliding_window)
        self.window_overlap_steps = window_overlap_steps

    @classmethod
    def from_model_config(cls, config: LocoConfig, **kwargs) -> "LocoFeatureExtractor":
        """
        Builds the feature extractor matching a model configuration: feature dimensions, time grid, training length,
        largest pyramid stride and class names. Keyword arguments set the other attributes (post-processing).
        """
        return cls(
            visual_dim=config.visual_dim,
            audio_dim=config.audio_dim,
            max_seq_len=config.max_seq_len,
            max_stride=config.max_stride,
            fps=config.fps,
            feature_stride=config.feature_stride,
            feature_window=config.feature_window,
            id2label=dict(config.id2label),
            reference_padding=config.reference_padding,
            **kwargs,
        )

    def check_model_config(self, config: LocoConfig) -> None:
        """
        Raises a ValueError listing every setting in which this extractor and a model configuration disagree: the
        feature dimensions, the time grid (fps, feature_stride, feature_window), max_seq_len, max_stride,
        reference_padding and the class names. A checkpoint folder holds both (preprocessor_config.json and config.json); an fps that differs
        between them scales every event time, a renamed class relabels every event.
        """
        expected = LocoFeatureExtractor.from_model_config(config)
        differences = [
            f"{field} is {getattr(self, field)} here but {getattr(expected, field)} in the model"
            for field in ("visual_dim", "audio_dim", "fps", "feature_stride", "feature_window", "max_seq_len",
                          "max_stride", "reference_padding")
            if not math.isclose(getattr(self, field), getattr(expected, field))
        ]  # fmt: skip
        if self.id2label != expected.id2label:
            label_id = min(
                (label_id for label_id in self.id2label.keys() | expected.id2label.keys()
                 if self.id2label.get(label_id) != expected.id2label.get(label_id)),
            )  # fmt: skip
            differences.append(
                f"id2label[{label_id}] is {self.id2label.get(label_id)!r} here but "
                f"{expected.id2label.get(label_id)!r} in the model"
            )
        if differences:
            raise ValueError(
                "The feature extractor (preprocessor_config.json) and the model (config.json) disagree: "
                + "; ".join(differences)
                + ". Event times or labels would be wrong: save the extractor with "
                "LocoFeatureExtractor.from_model_config(model.config)."
            )

    @property
    def label2id(self) -> dict[str, int]:
        """Class ids by name."""
        return {name: label_id for label_id, name in self.id2label.items()}

    @property
    def num_labels(self) -> int:
        """Number of classes."""
        return len(self.id2label)

    def seconds_to_steps(self, seconds):
        """`seconds_to_steps` on this extractor's time grid (seconds -> feature steps)."""
        return seconds_to_steps(seconds, self.fps, self.feature_stride, self.feature_window)

    def steps_to_seconds(self, steps):
        """`steps_to_seconds` on this extractor's time grid (feature steps -> seconds)."""
        return steps_to_seconds(steps, self.fps, self.feature_stride, self.feature_window)

    # -----------------------------------------------------------------------------------------------------------------
    # Inputs
    # -----------------------------------------------------------------------------------------------------------------

    def __call__(
        self,
        visual_features,
        audio_features,
        return_tensors: str | None = None,
        training: bool = False,
        video_ids: Sequence[str] | None = None,
        padding: str = "max_length",
    ) -> BatchFeature:
        """
        Aligns, pads and masks the features of one video or a batch of videos.

        Both streams of a video are truncated to their common length T_i (the reference does no resampling). In
        training, every video is padded to exactly `max_seq_len` steps (longer videos are an error: crop them
        first). At inference, videos are padded to max(`max_seq_len`, the longest T_i rounded up to a multiple of
        `max_stride`).

        Args:
            visual_features: one video (`np.ndarray` or `torch.Tensor` of shape `(T, visual_dim)`), a batch of shape
                `(B, T, visual_dim)` or a list of B videos of shape `(T_i, visual_dim)`.
            audio_features: the same for audio, `audio_dim` channels; as many videos as `visual_features`.
            return_tensors (`str`, *optional*): "pt" for torch tensors, "np" or None for numpy arrays.
            training (`bool`, default False): pad to exactly `max_seq_len`.
            video_ids (`list[str]`, *optional*): one id per video, used in error messages.
            padding (`str`, default "max_length"): "max_length" pads as described above (the UnAV reference);
                "longest" pads only to the longest video rounded up to a multiple of `max_stride` (at least one
                stride), for less compute. The model's outputs at valid steps do not depend on the amount of
                padding, except with `reference_padding` (a converted UnAV checkpoint), which refuses "longest".

        Returns:
            `BatchFeature` with visual_features `(B, T', visual_dim)` float32, audio_features `(B, T', audio_dim)`
            float32 and attention_mask `(B, T')` int64 (1 = valid step).

        Raises:
            ValueError naming the video: wrong channel count, not 2-D or ragged, no steps, NaN or infinite values,
            too long for training; or different numbers of visual videos, audio videos and ids.
        """
        visual_list = _as_video_list(visual_features, "visual_features")
        audio_list = _as_video_list(audio_features, "audio_features")
        if not visual_list:
            raise ValueError("visual_features holds no video.")
        if len(audio_list) != len(visual_list):
            missing = min(len(audio_list), len(visual_list))
            named = video_ids is not None and missing < len(video_ids)
            raise ValueError(
                f"Got {len(visual_list)} visual and {len(audio_list)} audio videos: "
                f"{_video_name(missing, video_ids if named else None)} has only one stream."
            )
        if video_ids is not None and len(video_ids) != len(visual_list):
            raise ValueError(f"Got {len(video_ids)} video_ids for {len(visual_list)} videos.")

        visual_arrays, audio_arrays = [], []
        for index, (visual, audio) in enumerate(zip(visual_list, audio_list, strict=True)):
            name = _video_name(index, video_ids)
            visual = _video_array(visual, "visual_features", self.visual_dim, name)
            audio = _video_array(audio, "audio_features", self.audio_dim, name)
            length = min(len(visual), len(audio))
            if len(visual) != len(audio):
                logger.debug(
                    "%s: visual has %d steps, audio %d; both truncated to %d.",
                    name,
                    len(visual),
                    len(audio),
                    length,
                )
            if training and length > self.max_seq_len:
                raise ValueError(
                    f"{name} has {length} steps, more than max_seq_len={self.max_seq_len}: crop it for training."
                )
            visual_arrays.append(visual[:length])
            audio_arrays.append(audio[:length])

        longest = max(len(visual) for visual in visual_arrays)
        if padding not in ("max_length", "longest"):
            raise ValueError(f"padding must be 'max_length' or 'longest', got {padding!r}.")
        if padding == "longest" and self.reference_padding:
            raise ValueError(
                "padding='longest' changes the outputs of a model with reference_padding (a converted UnAV "
                "checkpoint): use padding='max_length', UnAV's padding."
            )
        if padding == "longest":
            padded_length = -(-longest // self.max_stride) * self.max_stride
        elif training:
            padded_length = self.max_seq_len
        else:
            padded_length = max(self.max_seq_len, -(-longest // self.max_stride) * self.max_stride)
        batch_size = len(visual_arrays)
        padded_visual = np.full(
            (batch_size, padded_length, self.visual_dim), self.padding_value, dtype=np.float32
        )
        padded_audio = np.full(
            (batch_size, padded_length, self.audio_dim), self.padding_value, dtype=np.float32
        )
        attention_mask = np.zeros((batch_size, padded_length), dtype=np.int64)
        for index, (visual, audio) in enumerate(zip(visual_arrays, audio_arrays, strict=True)):
            length = len(visual)
            padded_visual[index, :length] = visual
            padded_audio[index, :length] = audio
            attention_mask[index, :length] = 1
        data = {
            "visual_features": padded_visual,
            "audio_features": padded_audio,
            "attention_mask": attention_mask,
        }
        return BatchFeature(data, tensor_type=return_tensors)

    def forward_in_windows(self, model, model_inputs):
        """
        Runs `model` on a batch of inputs, window by window when a video is longer than `max_seq_len` steps.

        Short videos (every video of the batch within `max_seq_len` steps), or `sliding_window=False`, take one
        plain call, `model(**model_inputs)`. Longer ones are cut into windows of `max_seq_len` steps overlapping by
        `window_overlap_steps` (`window_starts`), run one window at a time, so that the model never sees more than
        `max_seq_len` steps and memory stays that of one window, and merged (`merge_window_outputs`) into outputs
        that `post_process_event_localization` decodes, with one NMS over all windows' candidates.

        Args:
            model: a `LocoForEventLocalization`, or any callable taking `visual_features`, `audio_features` and
                `attention_mask` and returning the fields `post_process_event_localization` reads.
            model_inputs (`dict`): visual_features `(B, T, visual_dim)`, audio_features `(B, T, audio_dim)` and
                attention_mask `(B, T)`, as this extractor returns them (cast to the model's dtype as needed).

        Returns:
            The model's outputs, or for long videos a `SimpleNamespace` with logits, segment_offsets,
            point_positions (in steps of the whole video), point_strides and point_mask over all windows' points.
        """
        inputs = {name: model_inputs[name] for name in self.model_input_names}
        num_steps = int(inputs["attention_mask"].sum(1).max())
        if not self.sliding_window or num_steps <= self.max_seq_len:
            return model(**inputs)
        hop_steps = self.max_seq_len - self.window_overlap_steps
        starts = window_starts(num_steps, self.max_seq_len, hop_steps, self.max_stride)
        window_outputs = [
            model(**{name: value[:, start : start + self.max_seq_len] for name, value in inputs.items()})
            for start in starts
        ]
        return merge_window_outputs(window_outputs, starts, self.max_seq_len, self.max_stride)

    # -----------------------------------------------------------------------------------------------------------------
    # Annotations <-> labels
    # -----------------------------------------------------------------------------------------------------------------

    def _label_ids(self, labels, owner: str) -> list[int]:
        if isinstance(labels, (np.ndarray, torch.Tensor)):
            labels = labels.tolist()
        if isinstance(labels, (str, int)):
            raise ValueError(f"Labels of {owner} must be a sequence of class ids or names, got {labels!r}.")
        label2id = self.label2id
        ids = []
        for label in labels:
            if isinstance(label, str):
                if label not in label2id:
                    raise ValueError(f"Unknown class name {label!r} in the annotations of {owner}.")
                ids.append(label2id[label])
            elif isinstance(label, (int, np.integer)) and not isinstance(label, bool):
                if int(label) not in self.id2label:
                    raise ValueError(
                        f"Class id {label} in the annotations of {owner} is not in id2label (0..{self.num_labels - 1})."
                    )
                ids.append(int(label))
            else:
                raise ValueError(f"Labels of {owner} must be class ids or names, got {label!r}.")
        return ids

    def annotations_to_labels(
        self, segments_seconds, labels, duration: float | None = None, video_id: str | None = None
    ) -> dict[str, torch.Tensor]:
        """
        Converts one video's event annotations in seconds to model labels in feature steps.

        Args:
            segments_seconds (array-like of shape `(k, 2)`): (start, end) of each event, in seconds.
            labels (array-like of shape `(k,)`): class ids or class names (from `id2label`).
            duration (`float`, *optional*): video duration, in seconds; events must then lie within [0, duration]
                (1e-4 s of slack for float32 rounding).
            video_id (`str`, *optional*): named in error messages.

        Returns:
            `dict` with "class_labels" (`torch.LongTensor` of shape `(k,)`) and "segments" (`torch.FloatTensor` of
            shape `(k, 2)`, in steps; an event starting at 0 s starts at -feature_window / (2 * feature_stride)).

        Raises:
            ValueError naming the video for unknown names or ids, a count or shape mismatch, non-finite times,
            end <= start, or times outside [0, duration]. No event is dropped silently.
        """
        owner = f"video {video_id!r}" if video_id is not None else "the video (no video_id given)"
        try:
            segments = np.asarray(segments_seconds, dtype=np.float64)
        except (ValueError, TypeError) as error:
            raise ValueError(f"Segments of {owner} are not a (k, 2) array of seconds: {error}") from None
        if segments.size == 0:
            segments = segments.reshape(0, 2)
        if segments.ndim != 2 or segments.shape[1] != 2:
            raise ValueError(f"Segments of {owner} must have shape (k, 2), got {segments.shape}.")
        label_ids = self._label_ids(labels, owner)
        if len(label_ids) != len(segments):
            raise ValueError(f"{owner} has {len(segments)} segments but {len(label_ids)} labels.")
        if not np.isfinite(segments).all():
            raise ValueError(f"Segments of {owner} contain NaN or infinite times.")
        for (start, end), label_id in zip(segments.tolist(), label_ids, strict=True):
            event = f"event [{start}, {end}] s ({self.id2label[label_id]!r}) of {owner}"
            if end <= start:
                raise ValueError(f"The {event} ends before it starts or has zero length.")
            if duration is not None and (
                start < -_ANNOTATION_TOLERANCE_SECONDS or end > duration + _ANNOTATION_TOLERANCE_SECONDS
            ):
                raise ValueError(f"The {event} lies outside the video, [0, {duration}] s.")
        return {
            "class_labels": torch.tensor(label_ids, dtype=torch.long),
            "segments": torch.from_numpy(self.seconds_to_steps(segments)).to(torch.float32),
        }

    def labels_to_annotations(self, labels: dict, duration: float | None = None) -> dict:
        """
        Converts one video's model labels back to events in seconds (the inverse of `annotations_to_labels`).

        Args:
            labels (`dict`): "class_labels" (`(k,)` class ids) and "segments" (`(k, 2)`, in steps).
            duration (`float`, *optional*): video duration, in seconds; times are then clamped to [0, duration].

        Returns:
            `dict` with "segments" (`torch.FloatTensor` of shape `(k, 2)`, seconds), "labels" (`torch.LongTensor` of
            shape `(k,)`) and "label_names" (`list[str]`).
        """
        class_labels = torch.as_tensor(labels["class_labels"], dtype=torch.long).reshape(-1)
        segments = torch.as_tensor(labels["segments"], dtype=torch.float32).reshape(-1, 2)
        segments_seconds = self.steps_to_seconds(segments)
        if duration is not None:
            segments_seconds = segments_seconds.clamp(min=0.0, max=float(duration))
        return {
            "segments": segments_seconds,
            "labels": class_labels,
            "label_names": self._label_names(class_labels),
        }

    def _label_names(self, class_labels: torch.Tensor) -> list[str]:
        return [self.id2label[label_id] for label_id in class_labels.tolist()]

    # -----------------------------------------------------------------------------------------------------------------
    # Outputs
    # -----------------------------------------------------------------------------------------------------------------

    @torch.no_grad()
    def post_process_event_localization(
        self,
        outputs,
        durations,
        *,
        pre_nms_threshold: float | None = None,
        pre_nms_top_k: int | None = None,
        min_segment_steps: float | None = None,
        nms_method: str | None = None,
        nms_sigma: float | None = None,
        nms_iou_threshold: float | None = None,
        min_score: float | None = None,
        max_detections: int | None = None,
    ) -> list[dict]:
        """
        Decodes model outputs into events in seconds, one dict per video, as the UnAV reference does.

        Per video: score = sigmoid(logit), zero at padded points; per pyramid level (points grouped by stride) keep the
        `pre_nms_top_k` (point, class) pairs of highest score among those above `pre_nms_threshold`; decode their
        segments; drop those of length <= `min_segment_steps` steps; per-class NMS (`soft_nms_1d`) keeping
        `max_detections`; convert to seconds and clamp to [0, duration]. Vectorised over videos, points and classes
        (only the pyramid levels are looped over). Keyword arguments override the extractor's attributes of the same
        name for this call.

        Args:
            outputs: the model output, or any object with the attributes
                logits (`torch.FloatTensor` of shape `(B, P, C)`): class logits (before the sigmoid);
                segment_offsets (`torch.FloatTensor` of shape `(B, P, C, 2)`): (left, right) in units of the stride;
                point_positions (`torch.FloatTensor` of shape `(P,)`): point positions, in steps;
                point_strides (`torch.FloatTensor` of shape `(P,)`): stride of each point's level, in steps;
                point_mask (`torch.BoolTensor` of shape `(B, P)`): valid points.
            durations (list of `float`, `np.ndarray` or `torch.Tensor` of shape `(B,)`): video durations, in seconds.

        Raises:
            ValueError when `outputs.logits` hold NaN or infinite values at valid points (from finite inputs this
            means broken weights or an overflow), rather than returning no events.

        Returns:
            `list` of B dicts, each sorted by descending score: "segments" (`torch.FloatTensor` of shape `(k, 2)`,
            seconds), "scores" (`torch.FloatTensor` of shape `(k,)`, decayed by soft-NMS), "labels"
            (`torch.LongTensor` of shape `(k,)`) and "label_names" (`list[str]`), with k <= `max_detections`.
            Tensors stay on the device of `outputs.logits`.
        """
        pre_nms_threshold = self.pre_nms_threshold if pre_nms_threshold is None else pre_nms_threshold
        pre_nms_top_k = self.pre_nms_top_k if pre_nms_top_k is None else pre_nms_top_k
        min_segment_steps = self.min_segment_steps if min_segment_steps is None else min_segment_steps
        nms_method = self.nms_method if nms_method is None else nms_method
        nms_sigma = self.nms_sigma if nms_sigma is None else nms_sigma
        nms_iou_threshold = self.nms_iou_threshold if nms_iou_threshold is None else nms_iou_threshold
        min_score = self.min_score if min_score is None else min_score
        max_detections = self.max_detections if max_detections is None else max_detections
        _check_nms_arguments(nms_method, nms_sigma, nms_iou_threshold, min_score, max_detections)
        if not isinstance(pre_nms_top_k, int) or pre_nms_top_k <= 0:
            raise ValueError(f"pre_nms_top_k must be a positive integer, got {pre_nms_top_k!r}.")

        fields = {}
        for field in ("logits", "segment_offsets", "point_positions", "point_strides", "point_mask"):
            value = getattr(outputs, field, None)
            if not isinstance(value, torch.Tensor):
                raise ValueError(f"outputs.{field} must be a torch.Tensor, got {type(value).__name__}.")
            fields[field] = value
        logits = fields["logits"].float()
        batch_size, num_points, num_classes = logits.shape
        device = logits.device
        segment_offsets = fields["segment_offsets"].float()
        point_positions = fields["point_positions"].float().to(device)
        point_strides = fields["point_strides"].float().to(device)
        point_mask = fields["point_mask"].bool().to(device)
        expected_shapes = {
            "segment_offsets": (batch_size, num_points, num_classes, 2),
            "point_positions": (num_points,),
            "point_strides": (num_points,),
            "point_mask": (batch_size, num_points),
        }
        for field, shape in expected_shapes.items():
            if tuple(fields[field].shape) != shape:
                raise ValueError(
                    f"outputs.{field} must have shape {shape} to match logits {tuple(logits.shape)}, "
                    f"got {tuple(fields[field].shape)}."
                )
        if num_classes != self.num_labels:
            raise ValueError(
                f"outputs.logits has {num_classes} classes but id2label names {self.num_labels}."
            )
        # One check on the (B, P, C) logits: NaN scores would be dropped as low, returning no event for a broken model.
        non_finite = (~torch.isfinite(logits) & point_mask[..., None]).flatten(1).any(1)  # (B,)
        if bool(non_finite.any()):
            index = int(torch.nonzero(non_finite)[0])
            raise ValueError(
                f"The model's logits for video {index} hold NaN or infinite values at valid points: its weights are "
                "not finite or its computation overflowed (float16?). No events can be decoded from them."
            )
        if isinstance(durations, torch.Tensor):  # possibly on a GPU, where numpy cannot read it
            durations = durations.detach().cpu()
        durations = torch.as_tensor(
            np.asarray(durations, dtype=np.float64), dtype=torch.float32, device=device
        )
        if durations.shape != (batch_size,):
            raise ValueError(
                f"durations must hold one duration per video ({batch_size}), got shape {tuple(durations.shape)}."
            )
        bad_durations = torch.nonzero(~(durations > 0) | ~torch.isfinite(durations)).flatten().tolist()
        if bad_durations:
            index = bad_durations[0]
            raise ValueError(
                f"Duration of video {index} must be a positive number of seconds, got {durations[index]}."
            )

        scores = torch.sigmoid(logits) * point_mask[..., None]  # (B, P, C)

        # Per level: the top-k (point, class) pairs above the threshold.
        candidate_points, candidate_classes, candidate_scores = [], [], []
        for stride in torch.unique(point_strides).tolist():
            level_points = torch.nonzero(point_strides == stride).flatten()  # (P_l,)
            level_scores = scores[:, level_points].flatten(1)  # (B, P_l, C) -> (B, P_l * C)
            top_scores, top_flat = level_scores.topk(
                min(pre_nms_top_k, level_scores.shape[1]), dim=1
            )  # (B, K_l)
            points = level_points[top_flat // num_classes]  # (B, K_l)
            valid = (top_scores > pre_nms_threshold) & torch.gather(point_mask, 1, points)
            candidate_points.append(points)
            candidate_classes.append(top_flat % num_classes)
            candidate_scores.append(top_scores.masked_fill(~valid, -math.inf))
        points = torch.cat(candidate_points, dim=1)  # (B, N)
        classes = torch.cat(candidate_classes, dim=1)  # (B, N)
        candidate_scores = torch.cat(candidate_scores, dim=1)  # (B, N)

        rows = torch.arange(batch_size, device=device)[:, None]  # (B, 1), broadcast against (B, N)
        offsets = segment_offsets[rows, points, classes]  # (B, N, 2)
        segments = decode_segments(point_positions[points], point_strides[points], offsets)  # (B, N, 2) steps
        too_short = (segments[..., 1] - segments[..., 0]) <= min_segment_steps
        candidate_scores = candidate_scores.masked_fill(too_short, -math.inf)
        # Dropped candidates may hold infinite offsets; keep them out of the IoU arithmetic.
        segments = segments.masked_fill(~torch.isfinite(candidate_scores)[..., None], 0.0)

        kept, kept_scores = _batched_nms_1d(
            segments,
            candidate_scores,
            classes,
            nms_sigma,
            min_score,
            max_detections,
            nms_method,
            nms_iou_threshold,
        )  # (B, M) each
        kept_segments = torch.gather(segments, 1, kept[..., None].expand(-1, -1, 2))  # (B, M, 2) steps
        kept_seconds = self.steps_to_seconds(kept_segments).clamp(min=0.0)
        kept_seconds = torch.minimum(kept_seconds, durations[:, None, None])  # clamp to [0, duration]
        kept_classes = torch.gather(classes, 1, kept)  # (B, M)
        num_kept = torch.isfinite(kept_scores).sum(dim=1).tolist()  # kept events form a prefix of each row

        results = []
        for index, count in enumerate(num_kept):
            labels = kept_classes[index, :count]
            results.append(
                {
                    "segments": kept_seconds[index, :count],
                    "scores": kept_scores[index, :count],
                    "labels": labels,
                    "label_names": self._label_names(labels),
                }
            )
        return results
