# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Points, label assignment and losses of LoCo (Xing et al., arXiv 2409.07967), as pure functions.

`LocoForEventLocalization` calls them when `labels` is given: `make_points` places the points of every pyramid
level, `assign_labels` gives each point its class and regression targets under UnAV's rules, `compute_loss` adds
the sigmoid focal loss and the DIoU loss, divided by the EMA of the positive-point count, and
`local_correspondence_loss` is LCF's loss on local audio-visual pairs. Everything runs in float32.

Shape letters: B batch, T steps, C classes, L levels, P points (all levels), K events, W local window (2r + 1).
"""

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable
from torch.nn.utils.rnn import pad_sequence

from .configuration_loco import LocoConfig

# ---------------------------------------------------------------------------------------------------------------
# Local windows (shared by LCF's modulation and its loss)
# ---------------------------------------------------------------------------------------------------------------


def local_windows(hidden_states: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, T, D) -> (B, T, W, D): for each step, the 2r + 1 steps around it (zeros beyond the ends)."""
    padded = F.pad(hidden_states, (0, 0, radius, radius))
    return padded.unfold(1, 2 * radius + 1, 1).transpose(2, 3)  # (B, T, D, W) -> (B, T, W, D)


def local_dot_products(queries: torch.Tensor, keys: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, T, D) x (B, T, D) -> (B, T, W): queries[t] . keys[t + o] for o = -r ... r (0 beyond the ends)."""
    return LocalDotProducts.apply(queries, keys, radius)


def local_weighted_sum(weights: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """(B, T, W) weights of each step's window, (B, T, D) states -> (B, T, D): sum_o weights[t, o] states[t + o]."""
    return LocalWeightedSum.apply(weights, states)


def dot_products_per_offset(queries: torch.Tensor, keys: torch.Tensor, radius: int) -> torch.Tensor:
    """`local_dot_products` without autograd's bookkeeping: one product and sum per offset over (B, T, D). A batched
    matmul of one (1, D) x (D, W) block per step, on the windows of `local_windows`, is several times slower on CPU."""
    length = keys.shape[1]
    padded = F.pad(keys, (0, 0, radius, radius))
    products = [(queries * padded[:, offset : offset + length]).sum(-1) for offset in range(2 * radius + 1)]
    return torch.stack(products, dim=-1)


def weighted_sum_per_offset(weights: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """`local_weighted_sum` without autograd's bookkeeping: one in-place multiply-add per offset."""
    radius, length = weights.shape[-1] // 2, states.shape[1]
    padded = F.pad(states, (0, 0, radius, radius))
    total = weights[..., :1] * padded[:, :length]
    for offset in range(1, 2 * radius + 1):
        total.addcmul_(weights[..., offset : offset + 1], padded[:, offset : offset + length])
    return total


def scatter_per_offset(weights: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """The transpose of `local_weighted_sum`: (B, T, W), (B, T, D) -> (B, T, D) with out[s] = sum_o weights[s - o, o]
    states[s - o], each step's window sending its weighted state back to the steps it read (none beyond the ends)."""
    radius, length = weights.shape[-1] // 2, states.shape[1]
    padded = states.new_zeros(states.shape[0], length + 2 * radius, states.shape[2])
    for offset in range(2 * radius + 1):
        padded[:, offset : offset + length].addcmul_(weights[..., offset : offset + 1], states)
    return padded[:, radius : radius + length]


class LocalDotProducts(torch.autograd.Function):
    """`local_dot_products` with its backward pass written with the same per-offset kernels: the gradient of the
    queries is a `local_weighted_sum` of the keys, that of the keys a `scatter_per_offset` of the queries. Autograd
    would instead keep a product per offset and send each slice's gradient through a zero-filled copy of the
    padded keys."""

    @staticmethod
    def forward(ctx, queries, keys, radius):
        ctx.save_for_backward(queries, keys)
        return dot_products_per_offset(queries, keys, radius)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_products):
        queries, keys = ctx.saved_tensors
        grad_queries = weighted_sum_per_offset(grad_products, keys) if ctx.needs_input_grad[0] else None
        grad_keys = scatter_per_offset(grad_products, queries) if ctx.needs_input_grad[1] else None
        return grad_queries, grad_keys, None


class LocalWeightedSum(torch.autograd.Function):
    """`local_weighted_sum` with its backward pass: the gradient of the weights is `local_dot_products` of the
    output gradient with the states, that of the states a `scatter_per_offset` of the output gradient."""

    @staticmethod
    def forward(ctx, weights, states):
        ctx.save_for_backward(weights, states)
        return weighted_sum_per_offset(weights, states)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_total):
        weights, states = ctx.saved_tensors
        radius = weights.shape[-1] // 2
        grad_weights = (
            dot_products_per_offset(grad_total, states, radius) if ctx.needs_input_grad[0] else None
        )
        grad_states = scatter_per_offset(weights, grad_total) if ctx.needs_input_grad[1] else None
        return grad_weights, grad_states


def local_window_mask(mask: torch.BoolTensor, radius: int) -> torch.BoolTensor:
    """(B, T) -> (B, T, W): whether step t + o (o = -r ... r) is a valid step of the video."""
    return local_windows(mask.unsqueeze(-1).float(), radius).squeeze(-1).bool()


# ---------------------------------------------------------------------------------------------------------------
# Points and label assignment
# ---------------------------------------------------------------------------------------------------------------


def level_lengths(seq_len: int, strides: list[int]) -> list[int]:
    """Number of points of each level for a (padded) length divisible by the largest stride."""
    return [seq_len // stride for stride in strides]


def make_points(
    seq_len: int, config: LocoConfig, device=None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Points of all levels for a padded length T: positions 0, s, 2s, ... per level (no half-stride offset).

    Args:
        seq_len (`int`): the padded length T, in steps; a multiple of `config.max_stride`.
    Returns:
        point_positions `(P,)` in steps, point_strides `(P,)`, point_ranges `(P, 2)` regression range in steps.
    """
    positions, strides, ranges = [], [], []
    for stride, (low, high), length in zip(
        config.pyramid_strides,
        config.regression_ranges,
        level_lengths(seq_len, config.pyramid_strides),
        strict=True,
    ):
        positions.append(torch.arange(length, device=device, dtype=torch.float32) * stride)
        strides.append(torch.full((length,), float(stride), device=device))
        ranges.append(torch.tensor([low, high], device=device, dtype=torch.float32).expand(length, 2))
    return torch.cat(positions), torch.cat(strides), torch.cat(ranges)


def pad_labels(
    labels: list[dict], num_classes: int, device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-video label dicts -> padded segments (B, K, 2) in steps, classes (B, K) and validity (B, K), K >= 1.

    Raises a ValueError naming the video when its class labels are not integers (a float class such as 1.7 would
    be truncated) or its segments are not one (start, end) pair per label. `check_labels` checks the values. The
    batch is padded in one copy per field, not one per video.
    """
    counts = [len(video["class_labels"]) for video in labels]
    classes, segments = [], []
    for index, (video, count) in enumerate(zip(labels, counts, strict=True)):
        class_labels = torch.as_tensor(video["class_labels"], device=device)
        video_segments = torch.as_tensor(video["segments"], device=device, dtype=torch.float32)
        if count and (
            class_labels.is_floating_point() or class_labels.is_complex() or class_labels.dtype == torch.bool
        ):
            raise ValueError(
                f"labels[{index}]['class_labels'] must be integer class ids, got dtype {class_labels.dtype}: "
                f"{class_labels.tolist()}."
            )
        if count and video_segments.shape != (count, 2):
            raise ValueError(
                f"labels[{index}]['segments'] must have shape ({count}, 2), one (start, end) per class label, "
                f"got {tuple(video_segments.shape)}."
            )
        classes.append(class_labels.long().view(count))
        segments.append(video_segments.view(count, 2))
    if not any(counts):
        empty = torch.zeros(len(labels), 1, device=device)
        return empty.unsqueeze(-1).expand(-1, -1, 2).clone(), empty.long(), empty.bool()
    valid = torch.arange(max(counts), device=device) < torch.tensor(counts, device=device).unsqueeze(1)
    return pad_sequence(segments, batch_first=True), pad_sequence(classes, batch_first=True), valid


def check_labels(
    segments: torch.Tensor,
    classes: torch.Tensor,
    valid: torch.Tensor,
    num_steps: torch.Tensor,
    num_classes: int,
    margin_steps: float,
) -> None:
    """Raises a ValueError naming the first event that no point could learn, instead of making it background.

    An event needs a class in [0, C), finite times, end > start, and an overlap with the span the video's features
    cover, [-margin_steps, num_steps - 1 + margin_steps] (each feature covers its step +- half a window). Checked
    for the whole batch at once, with one host sync.

    Args:
        segments (`(B, K, 2)` steps), classes (`(B, K)`), valid (`(B, K)` bool): from `pad_labels`.
        num_steps (`torch.LongTensor` of shape `(B,)`): valid steps of each video.
        num_classes (`int`): C.
        margin_steps (`float`): half a feature window, in steps: feature_window / (2 * feature_stride).
    """
    starts, ends = segments[..., 0], segments[..., 1]  # (B, K) each
    last_covered = num_steps[:, None].to(segments.dtype) - 1 + margin_steps  # (B, 1)
    good_class = (classes >= 0) & (classes < num_classes)
    good_times = torch.isfinite(segments).all(-1) & (ends > starts)
    inside = (ends > -margin_steps) & (starts < last_covered)
    bad = valid & ~(good_class & good_times & inside)  # (B, K)
    if not bool(bad.any()):
        return
    video, event = torch.nonzero(bad)[0].tolist()
    start, end = segments[video, event].tolist()
    name = (
        f"labels[{video}] event {event} (class {int(classes[video, event])}, segment [{start}, {end}] steps)"
    )
    if not bool(good_class[video, event]):
        raise ValueError(f"{name}: class_labels must lie in [0, {num_classes}).")
    if not bool(good_times[video, event]):
        raise ValueError(
            f"{name}: times must be finite with end > start (no zero-length or reversed events)."
        )
    raise ValueError(
        f"{name} lies outside the video's {int(num_steps[video])} steps: segments must overlap "
        f"[{-margin_steps}, {float(last_covered[video])}] steps."
    )


@torch.no_grad()
def assign_labels(
    point_positions: torch.Tensor,
    point_strides: torch.Tensor,
    point_ranges: torch.Tensor,
    segments: torch.Tensor,
    classes: torch.Tensor,
    valid: torch.Tensor,
    num_classes: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Class-aware point targets, vectorised over the batch (UnAV assigns per video in Python on the CPU).

    Rules (UnAV reference, no centre sampling): a point at position t matches an event [start, end] when it is
    strictly inside (min(t - start, end - t) > 0) and max(t - start, end - t) lies in the level's range, both ends
    inclusive. Targets are multi-label over classes: overlapping events of different classes all make the point
    positive for their class. When two events of the same class match one point, the shorter one gives the
    regression target (UnAV lets the later one overwrite; only one same-class overlap exists in UnAV-100). A video
    without events gives only background points.

    Args:
        point_positions, point_strides (`(P,)`), point_ranges (`(P, 2)`): from `make_points`, in steps.
        segments (`(B, K, 2)` steps), classes (`(B, K)`), valid (`(B, K)` bool): from `pad_labels`.
    Returns:
        classification_targets `(B, P, C)` in {0, 1} and regression_targets `(B, P, C, 2)`: (left, right) distances
        in units of the point's stride, zero where the class target is 0.
    """
    positions = point_positions.view(1, -1, 1)  # (1, P, 1)
    left = positions - segments[:, None, :, 0]  # (B, P, K)
    right = segments[:, None, :, 1] - positions
    inside = torch.minimum(left, right) > 0
    farthest = torch.maximum(left, right)
    in_range = (farthest >= point_ranges[None, :, 0, None]) & (farthest <= point_ranges[None, :, 1, None])
    match = inside & in_range & valid[:, None, :]  # (B, P, K)

    class_one_hot = F.one_hot(classes, num_classes).bool() & valid.unsqueeze(-1)  # (B, K, C)
    match_per_class = match.unsqueeze(-1) & class_one_hot.unsqueeze(1)  # (B, P, K, C)
    classification_targets = match_per_class.any(dim=2).float()  # (B, P, C)

    lengths = (segments[..., 1] - segments[..., 0]).view(segments.shape[0], 1, -1, 1)  # (B, 1, K, 1)
    cost = torch.where(match_per_class, lengths, torch.full_like(lengths, float("inf")))  # (B, P, K, C)
    shortest = cost.argmin(dim=2)  # (B, P, C): the matched event of each class with the smallest length
    offsets = torch.stack([left, right], dim=-1) / point_strides.view(1, -1, 1, 1)  # (B, P, K, 2)
    # gather (B, P, K, 2) at event index (B, P, C) -> (B, P, C, 2)
    regression_targets = torch.gather(offsets, 2, shortest.unsqueeze(-1).expand(-1, -1, -1, 2))
    regression_targets = regression_targets * classification_targets.unsqueeze(-1)
    return classification_targets, regression_targets


# ---------------------------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------------------------


def masked_sum(values: torch.Tensor, mask: torch.BoolTensor | None = None) -> torch.Tensor:
    """Sum of `values` where `mask` (broadcast to their shape) is True, of all of them without a mask.

    A mask rather than boolean indexing keeps every shape static: no host sync, one graph under `torch.compile`.
    """
    return values.sum() if mask is None else torch.where(mask, values, 0.0).sum()


def sigmoid_focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    mask: torch.BoolTensor | None = None,
) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al., ICCV 2017), summed where `mask` (broadcast) is True. Inputs of any shape,
    computed in float32."""
    logits, targets = logits.float(), targets.float()
    probabilities = torch.sigmoid(logits)
    cross_entropy = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = probabilities * targets + (1 - probabilities) * (1 - targets)
    loss = cross_entropy * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return masked_sum(loss, mask)


def diou_loss_1d(
    predicted: torch.Tensor, target: torch.Tensor, eps: float = 1e-8, mask: torch.BoolTensor | None = None
) -> torch.Tensor:
    """1-D Distance-IoU loss (Zheng et al., AAAI 2020) between (left, right) offsets from the same point, summed
    over the pairs where `mask` is True (all without a mask).

    loss = 1 - IoU + (centre distance / enclosing length)^2, with IoU over the two segments around the point.

    Args:
        predicted, target (`torch.FloatTensor` of shape `(..., 2)`): non-negative (left, right) offsets.
        mask (`torch.BoolTensor` of shape `(...)`, *optional*): the pairs to sum.
    """
    predicted, target = predicted.float(), target.float()
    left_p, right_p = predicted.unbind(-1)
    left_t, right_t = target.unbind(-1)
    intersection = torch.minimum(left_p, left_t) + torch.minimum(right_p, right_t)
    union = left_p + right_p + left_t + right_t - intersection
    iou = intersection / union.clamp(min=eps)
    enclosing = torch.maximum(left_p, left_t) + torch.maximum(right_p, right_t)
    centre_distance = 0.5 * ((right_p - left_p) - (right_t - left_t))
    return masked_sum(1 - iou + (centre_distance / enclosing.clamp(min=eps)) ** 2, mask)


def local_correspondence_loss(
    pair_logits: torch.Tensor, mask: torch.BoolTensor, radius: int, step_classes: torch.BoolTensor
) -> torch.Tensor:
    """LCF's correspondence loss: a binary cross-entropy on every local audio-visual pair of steps.

    The pair (audio step t, visual step s), |t - s| <= r, is positive when both steps lie inside labelled events of
    a shared class, negative otherwise; the loss is the mean over positive pairs plus the mean over negative pairs,
    halved, so that long events do not drown the rest. Scoring each local pair on its own fixes the absolute level of
    the pair logit, which the gate reads (a ranking loss would leave it free, and the gate open everywhere), and
    keeping the pairs local avoids contrasting a step with far-away steps of the same class that only one modality
    shows: within a window, such a contradiction remains only at an event's asynchronous edge.

    Args:
        pair_logits (`torch.FloatTensor` of shape `(B, T, 2r + 1)`): k S(t, t + o) + b for o = -r ... r.
        mask (`torch.BoolTensor` of shape `(B, T)`).
        step_classes (`torch.BoolTensor` of shape `(B, T, C)`): classes of the labelled events covering each step
            (`step_event_classes`).
    Returns:
        A scalar (0 when there is no valid pair).
    """
    window_mask = local_window_mask(mask, radius) & mask.unsqueeze(-1)  # (B, T, W): both steps valid
    classes = step_classes.float()
    shared = local_dot_products(classes, classes, radius) > 0  # (B, T, W)
    pair_loss = F.binary_cross_entropy_with_logits(pair_logits.float(), shared.float(), reduction="none")
    # The means over the positive and over the negative pairs, then the mean of those that exist (static shapes).
    pairs = torch.stack([shared & window_mask, ~shared & window_mask])  # (2, B, T, W)
    counts = pairs.flatten(1).sum(-1)  # (2,)
    means = torch.where(pairs, pair_loss, 0.0).flatten(1).sum(-1) / counts.clamp(min=1)
    return means.sum() / (counts > 0).sum().clamp(min=1)


def step_event_classes(segments, classes, valid, seq_len: int, num_classes: int) -> torch.BoolTensor:
    """Classes of the labelled events covering each step: (B, K, 2) steps, (B, K), (B, K) -> (B, T, C) bool."""
    steps = torch.arange(seq_len, device=segments.device, dtype=torch.float32).view(1, -1, 1)  # (1, T, 1)
    inside = (
        (steps >= segments[:, None, :, 0]) & (steps <= segments[:, None, :, 1]) & valid[:, None, :]
    )  # (B, T, K)
    one_hot = F.one_hot(classes, num_classes).float()  # (B, K, C)
    return torch.einsum("btk,bkc->btc", inside.float(), one_hot) > 0


def compute_loss(
    logits: torch.Tensor,
    segment_offsets: torch.Tensor,
    classification_targets: torch.Tensor,
    regression_targets: torch.Tensor,
    point_mask: torch.BoolTensor,
    normalizer: torch.Tensor,
    focal_alpha: float = 0.25,
    focal_gamma: float = 2.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The detection losses over the valid points, each divided by the normaliser N (UnAV's EMA of the number of
    positive points).

    Args:
        logits (`(B, P, C)`), segment_offsets (`(B, P, C, 2)`): the model's outputs.
        classification_targets (`(B, P, C)`), regression_targets (`(B, P, C, 2)`): from `assign_labels`.
        point_mask (`(B, P)` bool): valid points.
        normalizer (`torch.FloatTensor` of shape `()`): N.
    Returns:
        The sigmoid focal loss over every valid (point, class) and the DIoU loss over the positive ones, float32
        scalars with gradient.
    """
    classification_loss = sigmoid_focal_loss(
        logits, classification_targets, focal_alpha, focal_gamma, mask=point_mask.unsqueeze(-1)
    )
    positive_pairs = (classification_targets > 0) & point_mask.unsqueeze(-1)  # (B, P, C)
    regression_loss = diou_loss_1d(segment_offsets, regression_targets, mask=positive_pairs)
    return classification_loss / normalizer, regression_loss / normalizer
