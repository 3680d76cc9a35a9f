# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""PyTorch LoCo: Locality-aware Cross-modal Correspondence learning for dense audio-visual event localization.

Paper: Xing, Qu, Yan, Shu, Tang, "Locality-aware Cross-modal Correspondence Learning for Dense Audio-Visual Events
Localization", arXiv 2409.07967. The network extends the UnAV baseline (Geng et al., CVPR 2023), itself built on
ActionFormer, with two modules:

* LCF (Local Correspondence Feature modulation), inside the unimodal encoders: each step of one stream receives its
  locally aligned counterpart from the other stream in proportion to how coherent the two streams are there, and a
  local correspondence loss (is this audio-visual pair one event?) trains LCF's projections and calibrates the
  coherence gate (the encoders too when `lcf_stop_gradient` is off);
* LAC (Local Adaptive Cross-modal interaction), in the cross-modal pyramid: cross-modal attention with a Gaussian
  window whose width and shift each query predicts, and a null key so that a query may find nothing
  (`LocoLocalAdaptiveCrossAttention`, used in place of the dense `LocoAttentionBlock` when `use_lac` is on).

Points, label assignment and losses are pure functions in `loss_loco.py`.

Data flow (one row per stage)::

    visual (B, T, Dv)                          audio (B, T, Da)
    embedding + position table                 embedding + position table
    unimodal blocks (+ LCF after each)  <-->   unimodal blocks (+ LCF after each)
    cross-modal pyramid: level 0 at stride 1, then 2, 4, ... (LAC inside every cross-modal attention)
    fusion: concat per level -> (B, T_l, 2d); optional dependency block
    shared heads -> class logits (B, P, C) and class-aware offsets (B, P, C, 2) over all P points of all levels

Shape letters: B batch, T steps, d hidden size, C classes, H heads, L levels, P points (all levels), K events,
W local window (2r + 1), D' LCF projection size.
Departures from the UnAV code are commented where they happen and listed in docs/architecture.md.
"""

import math
import re
from dataclasses import dataclass
from functools import cache, partial

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils import ModelOutput, can_return_tuple, logging

from .configuration_loco import LocoConfig
from .loss_loco import (
    assign_labels,
    check_labels,
    compute_loss,
    level_lengths,
    local_correspondence_loss,
    local_dot_products,
    local_weighted_sum,
    local_window_mask,
    local_windows,
    make_points,
    pad_labels,
    step_event_classes,
)

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")


@dataclass
class LocoModelOutput(ModelOutput):
    """
    Output of [`LocoModel`]: the fused feature pyramid, flattened over levels.

    Args:
        last_hidden_state (`torch.FloatTensor` of shape `(batch_size, num_points, 2 * hidden_size)`):
            Fused audio-visual feature of every point of every level, level 0 first.
        point_positions (`torch.FloatTensor` of shape `(num_points,)`): position of each point, in steps.
        point_strides (`torch.FloatTensor` of shape `(num_points,)`): stride of each point's level, in steps.
        point_ranges (`torch.FloatTensor` of shape `(num_points, 2)`): regression range [low, high] of each point's
            level, in steps (what `assign_labels` matches max(left, right) against).
        point_mask (`torch.BoolTensor` of shape `(batch_size, num_points)`): valid points.
        padded_length (`int`): the padded length T, in steps (a multiple of the largest stride); level l has
            T / 2^l points.
        lcf_pair_logits (`torch.FloatTensor` of shape `(num_unimodal_layers, batch_size, seq_len, 2 * lcf_radius + 1)`):
            LCF's logit k S(t, t + o) + b that audio step t and visual step t + o show one audio-visual event, for
            o = -r ... r, at each unimodal layer (only with `use_lcf`): the input of the correspondence loss.
        lcf_coherence (`torch.FloatTensor` of shape `(num_unimodal_layers, 2, batch_size, seq_len)`): local
            coherence c(t) of the audio (index 0) and visual (index 1) stream at each layer (only with `use_lcf`).
        hidden_states (`tuple(torch.FloatTensor)`, returned when `output_hidden_states=True`): the fused feature of
            each pyramid level, level 0 first: `num_pyramid_levels` tensors, level l of shape
            `(batch_size, padded_length / 2^l, 2 * hidden_size)` (`last_hidden_state` is their concatenation).
    """

    last_hidden_state: torch.FloatTensor | None = None
    point_positions: torch.FloatTensor | None = None
    point_strides: torch.FloatTensor | None = None
    point_ranges: torch.FloatTensor | None = None
    point_mask: torch.BoolTensor | None = None
    padded_length: int | None = None
    lcf_pair_logits: torch.FloatTensor | None = None
    lcf_coherence: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class LocoEventLocalizationOutput(ModelOutput):
    """
    Output of [`LocoForEventLocalization`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, returned when `labels` is given): total loss,
            classification + regression_loss_weight * regression + lcf_loss_weight * LCF.
        classification_loss, regression_loss, lcf_loss (`torch.FloatTensor` of shape `()`): its components,
            detached (the LCF term is 0 without `use_lcf`).
        logits (`torch.FloatTensor` of shape `(batch_size, num_points, num_labels)`): class logits of every point.
        segment_offsets (`torch.FloatTensor` of shape `(batch_size, num_points, num_labels, 2)`): class-aware
            (left, right) distances from the point to the event boundaries, >= 0, in units of the point's stride.
        point_positions (`torch.FloatTensor` of shape `(num_points,)`): position of each point, in steps.
        point_strides (`torch.FloatTensor` of shape `(num_points,)`): stride of each point's level, in steps.
        point_mask (`torch.BoolTensor` of shape `(batch_size, num_points)`): valid points.
        lcf_coherence (`torch.FloatTensor` of shape `(num_unimodal_layers, 2, batch_size, seq_len)`): see
            [`LocoModelOutput`].
        hidden_states (`tuple(torch.FloatTensor)`, returned when `output_hidden_states=True`): the fused feature of
            each pyramid level that the heads read, see [`LocoModelOutput`].
    """

    loss: torch.FloatTensor | None = None
    classification_loss: torch.FloatTensor | None = None
    regression_loss: torch.FloatTensor | None = None
    lcf_loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    segment_offsets: torch.FloatTensor | None = None
    point_positions: torch.FloatTensor | None = None
    point_strides: torch.FloatTensor | None = None
    point_mask: torch.BoolTensor | None = None
    lcf_coherence: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None


# ---------------------------------------------------------------------------------------------------------------
# Primitives
# ---------------------------------------------------------------------------------------------------------------


def drop_path_keep(like: torch.Tensor, num_rows: int, drop_prob: float) -> torch.Tensor:
    """Stochastic depth's draw for `num_rows` rows shaped like `like` (num_rows, 1, ...): 1 keeps a row's residual
    branch, 0 drops it."""
    shape = (num_rows,) + (1,) * (like.ndim - 1)
    return like.new_empty(shape).bernoulli_(1.0 - drop_prob)


def drop_path(
    hidden_states: torch.Tensor, drop_prob: float, training: bool, keep: torch.Tensor | None = None
) -> torch.Tensor:
    """Stochastic depth: drops the whole residual branch per sample, rescaling the survivors by 1 / (1 - p).

    `keep` (`drop_path_keep`) is the draw to use, made by a caller that runs the rows in chunks; without it the
    draw is made here."""
    if drop_prob == 0.0 or not training:
        return hidden_states
    if keep is None:
        keep = drop_path_keep(hidden_states, hidden_states.shape[0], drop_prob)
    return hidden_states * keep / (1.0 - drop_prob)


def downsample_mask(mask: torch.BoolTensor, stride: int) -> torch.BoolTensor:
    """Nearest-neighbour downsampling of a (B, T) mask to (B, T / stride), as the strided convs see it."""
    return mask[:, ::stride]


class LocoMaskedConv1d(nn.Conv1d):
    """A 'same'-padded Conv1d on channels-last input that reads zeros at invalid steps and writes zeros there.

    Zeroing the input as well as the output keeps a video's outputs independent of how far its batch is padded: a
    LayerNorm maps a padded zero to its bias, which a k3 conv would otherwise read at the last valid step.
    `zero_padded_input=False` (`reference_padding`) reads whatever the padded steps hold, as the UnAV code does.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        zero_padded_input: bool = True,
        **kwargs,
    ):
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, **kwargs
        )
        self.zero_padded_input = zero_padded_input

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.BoolTensor
    ) -> tuple[torch.Tensor, torch.BoolTensor]:
        if self.zero_padded_input:
            hidden_states = hidden_states * mask.unsqueeze(-1).to(hidden_states.dtype)
        # (B, T, D) -> (B, D, T) -> conv -> (B, T / s, D')
        output = super().forward(hidden_states.transpose(1, 2)).transpose(1, 2)
        output_mask = downsample_mask(mask, self.stride[0])
        return output * output_mask.unsqueeze(-1).to(output.dtype), output_mask


class LocoConvProjection(nn.Module):
    """Depthwise conv (k3, stride 1 or 2) + LayerNorm + 1x1 projection: how q, k and v see local context."""

    def __init__(self, hidden_size: int, stride: int, zero_padded_input: bool = True):
        super().__init__()
        self.depthwise = LocoMaskedConv1d(
            hidden_size, hidden_size, 3, stride, zero_padded_input, groups=hidden_size, bias=False
        )
        self.norm = nn.LayerNorm(hidden_size)
        self.projection = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden_states, mask):
        local, mask = self.depthwise(hidden_states, mask)
        local = self.norm(local)
        return self.projection(local), local, mask


# ---------------------------------------------------------------------------------------------------------------
# Embeddings and position table
# ---------------------------------------------------------------------------------------------------------------


def sinusoidal_position_table(positions: torch.Tensor, hidden_size: int) -> torch.Tensor:
    """Sin/cos table (base 10000) at (possibly fractional) positions, scaled by 1/sqrt(d).

    Args:
        positions (`torch.FloatTensor` of shape `(..., T)`): positions in steps; computed in float64 when they are
            float64, in float32 otherwise.
    Returns:
        `torch.FloatTensor` of shape `(..., T, hidden_size)`, in the dtype of the computation.
    """
    dtype = torch.float64 if positions.dtype == torch.float64 else torch.float32
    frequencies = torch.exp(
        torch.arange(0, hidden_size, 2, device=positions.device, dtype=dtype)
        * (-math.log(10000.0) / hidden_size)
    )
    angles = positions.to(dtype).unsqueeze(-1) * frequencies  # (..., T, d/2)
    table = torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(
        -2
    )  # interleaved sin, cos -> (..., T, d)
    return table / math.sqrt(hidden_size)


class LocoEmbedding(nn.Module):
    """Per-modality embedding: num_embedding_layers x [masked conv k3 (no bias) -> LayerNorm -> ReLU]."""

    def __init__(self, config: LocoConfig, input_dim: int):
        super().__init__()
        dims = [input_dim] + [config.hidden_size] * config.num_embedding_layers
        self.convs = nn.ModuleList(
            LocoMaskedConv1d(
                dims[i], dims[i + 1], 3, zero_padded_input=not config.reference_padding, bias=False
            )
            for i in range(len(dims) - 1)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(config.hidden_size) for _ in self.convs)
        self.reference_padding = config.reference_padding

    def forward(self, features: torch.Tensor, mask: torch.BoolTensor) -> torch.Tensor:
        hidden_states = features
        for conv, norm in zip(self.convs, self.norms, strict=True):
            hidden_states, _ = conv(hidden_states, mask)
            hidden_states = F.relu(norm(hidden_states))
        if self.reference_padding:
            # reference_padding (converted UnAV checkpoints): UnAV leaves ReLU(LayerNorm bias) at padded steps.
            return hidden_states
        return hidden_states * mask.unsqueeze(-1).to(hidden_states.dtype)


@cache
def position_table(num_positions: int, hidden_size: int) -> torch.Tensor:
    """UnAV's fixed table: rows 0 ... num_positions - 1, computed in float64 and stored in float32 (on the CPU)."""
    positions = torch.arange(num_positions, dtype=torch.float64, device="cpu")
    return sinusoidal_position_table(positions, hidden_size).float()


def interpolate_position_table(table: torch.Tensor, lengths: torch.Tensor, seq_len: int) -> torch.Tensor:
    """Linear interpolation of a table to each video's length, as `F.interpolate(mode="linear", align_corners=False)`.

    A video of length L > M (M table rows) gets the table resampled to L rows; a shorter one gets the first rows
    unchanged. Steps beyond L repeat the last row, to be masked.

    Args:
        table (`torch.FloatTensor` of shape `(M, d)`).
        lengths (`torch.FloatTensor` of shape `(B, 1)`): the length each video's table is resampled to, in steps.
        seq_len (`int`): T, the number of rows returned.
    Returns:
        `torch.FloatTensor` of shape `(B, T, d)`.
    """
    num_rows = table.shape[0]
    scale = (num_rows / lengths).clamp(max=1.0)  # (B, 1) float32: source rows per output row, as torch has it
    steps = torch.arange(seq_len, device=table.device, dtype=torch.float32) + 0.5
    # torch forms the fractional source row scale * (t + 0.5) - 0.5 with a single rounding (a fused multiply-add):
    # in float64 the product and the difference are exact, and rounding them once to float32 gives the same row.
    wide = torch.float32 if table.device.type == "mps" else torch.float64  # MPS has no float64
    source = (steps.to(wide) * scale.to(wide) - 0.5).float().clamp(min=0)  # (B, T)
    lower = source.long().clamp(max=num_rows - 1)
    upper = (lower + 1).clamp(max=num_rows - 1)
    weight = (source - lower).clamp(0, 1).unsqueeze(-1)  # (B, T, 1)
    return table[lower] * (1 - weight) + table[upper] * weight  # (M, d)[(B, T)] -> (B, T, d)


def position_embeddings(mask: torch.BoolTensor, config: LocoConfig) -> torch.Tensor:
    """The fixed position table for a batch, (B, T, d), zero at padding.

    A video longer than max_seq_len has its table stretched to its length: with `position_interpolation="linear"`
    UnAV's max_seq_len-row table is linearly interpolated; with "resample" sin/cos are evaluated at positions
    compressed into [0, max_seq_len - 1]. UnAV stretches by the *padded* length, so a video's outputs depend on how
    long its batch-mates are; here each video's own valid length decides, unless `reference_padding`.
    """
    if config.reference_padding:
        # reference_padding (converted UnAV checkpoints): the padded length T decides, as in UnAV.
        lengths = torch.full((mask.shape[0], 1), float(mask.shape[1]), device=mask.device)
    else:
        lengths = mask.sum(dim=1, keepdim=True).clamp(min=1).float()  # (B, 1)
    if config.position_interpolation == "linear":
        table = position_table(config.max_seq_len, config.hidden_size).to(mask.device)
        return interpolate_position_table(table, lengths, mask.shape[1]) * mask.unsqueeze(-1)
    scale = ((config.max_seq_len - 1) / (lengths - 1).clamp(min=1)).clamp(max=1.0)  # (B, 1)
    positions = torch.arange(mask.shape[1], device=mask.device, dtype=torch.float32) * scale  # (B, T)
    return sinusoidal_position_table(positions, config.hidden_size) * mask.unsqueeze(-1)


# ---------------------------------------------------------------------------------------------------------------
# Attention blocks: self-attention, cross-modal attention with LAC, dependency block
# ---------------------------------------------------------------------------------------------------------------


class LocoLocalWindow(nn.Module):
    """LAC's data-driven window: per query i and head h a width w(i, h) and a shift delta(i, h), in level steps.

    w = w_min + (w_max - w_min) * sigmoid(f_h(x_i)); delta = delta_max * tanh(g_h(x_i)). The attention bias is
    -(j - i - delta)^2 / (2 w^2). The predictor starts at zero weights and biases that give each head its initial
    width from `lac_initial_windows` (about 1, 2, 4, 8 steps), so heads start multi-granular and without shift.
    """

    def __init__(self, config: LocoConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.min_window = config.lac_min_window
        self.max_window = config.lac_max_window
        self.max_shift = config.lac_max_shift
        # Plain parameters rather than nn.Linear: their initial values are set here, not by the generic Linear init.
        self.width_weight = nn.Parameter(torch.empty(self.num_heads, config.hidden_size))
        self.width_bias = nn.Parameter(torch.empty(self.num_heads))
        self.shift_weight = nn.Parameter(torch.empty(self.num_heads, config.hidden_size))
        self.shift_bias = nn.Parameter(torch.empty(self.num_heads))

    def initial_width_logits(self, initial_windows: list[float]) -> torch.Tensor:
        fraction = (torch.tensor(initial_windows) - self.min_window) / (self.max_window - self.min_window)
        return torch.logit(fraction)

    def window_shape(self, query_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            query_features (`torch.FloatTensor` of shape `(B, Tq, d)`): normalised local features of the queries.
        Returns:
            shift delta and factor -1 / (2 w^2), each `(B, H, Tq, 1)` in float32: the bias is
            (j - i - delta)^2 * factor.
        """
        query_features = query_features.float()
        width_logits = F.linear(query_features, self.width_weight.float(), self.width_bias.float())
        width = self.min_window + (self.max_window - self.min_window) * torch.sigmoid(width_logits)
        shift = self.max_shift * torch.tanh(
            F.linear(query_features, self.shift_weight.float(), self.shift_bias.float())
        )
        # (B, Tq, H) -> (B, H, Tq, 1) so each head and query has its own window over the keys. The factor is formed
        # on this small tensor: three passes over the (B, H, Tq, Tk) one.
        return shift.permute(0, 2, 1).unsqueeze(-1), -0.5 / width.permute(0, 2, 1).unsqueeze(-1).square()

    def forward(self, query_features: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
        """
        Args:
            query_features (`torch.FloatTensor` of shape `(B, Tq, d)`): normalised local features of the queries.
            key_positions (`torch.FloatTensor` of shape `(Tk,)`): positions of the keys, in level steps.
        Returns:
            `torch.FloatTensor` of shape `(B, H, Tq, Tk)`: the additive attention bias, in float32.
        """
        shift, factor = self.window_shape(query_features)
        return (key_distances(query_features.shape[1], key_positions) - shift).square() * factor


def key_distances(query_length: int, key_positions: torch.Tensor) -> torch.Tensor:
    """(1, 1, Tq, Tk): key position j minus query position i, in level steps."""
    query_positions = torch.arange(query_length, device=key_positions.device, dtype=torch.float32)
    return (key_positions.view(1, -1) - query_positions.view(-1, 1)).view(1, 1, query_length, -1)


def eager_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d_head) + bias) V, written out (attention implementation "eager").

    Args:
        query (`torch.FloatTensor` of shape `(B, H, Tq, d/H)`), key and value (`(B, H, Tk, d/H)`).
        bias (`torch.FloatTensor` broadcastable to `(B, H, Tq, Tk)`): additive, float32; masked keys hold a large
            finite negative, so a row without any valid key gets uniform weights rather than NaN.
    Returns:
        `torch.FloatTensor` of shape `(B, H, Tq, d/H)`.
    """
    scores = torch.matmul(query, key.transpose(-1, -2)) * query.shape[-1] ** -0.5  # (B, H, Tq, Tk)
    weights = (scores + bias.to(query.dtype)).softmax(dim=-1, dtype=torch.float32).to(value.dtype)
    return torch.matmul(weights, value)


def sdpa_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, bias: torch.Tensor
) -> torch.Tensor:
    """The same attention through `torch.nn.functional.scaled_dot_product_attention` (implementation "sdpa", the
    default), which picks a fused kernel where one takes a float bias. Shapes as in `eager_attention`."""
    return F.scaled_dot_product_attention(query, key, value, attn_mask=bias.to(query.dtype))


class LocoWindowedAttention(torch.autograd.Function):
    """LAC's attention in one function for training on the CPU: softmax(Q K^T / sqrt(d_head) + B) V with the window
    bias B_ij = factor_i (d_ij - delta_i)^2 on the valid keys, 0 on the null key (the first key), and the key
    padding on the others, and the gradients of Q, K, V, delta and factor.

    SDPA's fused CPU kernel takes no gradient for a float mask, so a learned bias sends it down its unfused path,
    and autograd then runs a dozen passes over (B, H, Tq, Tk) tensors for the bias and its gradient. Here the bias
    is expanded as factor d^2 - 2 factor delta d + factor delta^2: the last term is the same for every key of a
    row, and a softmax does not see a row's constant, so the valid keys get the first two terms, each one
    `addcmul_` over the scores against the fixed d and d^2, and the null key gets -factor delta^2 instead of 0.
    The key padding is added as it is (0 or the dtype's minimum). The backward pass uses the saved probabilities P
    and output O: dS = P * (dP - rowsum(dO * O)), the gradient of every bias entry, and the window's parameters
    take its sums against d and d^2 and its null-key column. Products with a transposed operand are formed as the
    transpose of the plain product, which BLAS runs faster here. The same maths as the bias followed by
    `eager_attention`, in float32.

    Args (of `apply`):
        query `(B, H, Tq, d/H)`, key and value `(B, H, Tk, d/H)`: the null key first (value zero).
        shift, factor `(B, H, Tq, 1)`: `LocoLocalWindow.window_shape`.
        distances `(1, 1, Tq, Tk)`: `key_distances`; the null key's column is not read.
        padding `(B, 1, 1, Tk)`: 0 at valid keys and at the null key, the dtype's minimum at padded keys.
    """

    @staticmethod
    def forward(ctx, query, key, value, shift, factor, distances, padding):
        batch_size, num_heads, query_length, head_size = query.shape
        key_length = key.shape[2]
        rows = batch_size * num_heads
        # Fixed (Tq, Tk) distances j - i and their squares, zero in the null key's column: its bias is set alone.
        offsets = distances.reshape(query_length, key_length).clone()
        offsets[:, 0] = 0
        squared_offsets = offsets.square()
        scaled_query = (query * head_size**-0.5).reshape(rows, query_length, head_size)
        scores = torch.bmm(scaled_query, key.reshape(rows, key_length, head_size).transpose(1, 2))
        biased = scores.view(batch_size, num_heads, query_length, key_length)
        biased.addcmul_(factor, squared_offsets).addcmul_(-2.0 * factor * shift, offsets)
        biased[..., :1].sub_(factor * shift.square())
        biased.add_(padding)
        probabilities = scores.softmax(dim=-1)
        output = torch.bmm(probabilities, value.reshape(rows, key_length, head_size))
        ctx.save_for_backward(scaled_query, key, value, shift, factor, offsets, probabilities, output)
        return output.view(batch_size, num_heads, query_length, head_size)

    @staticmethod
    def backward(ctx, grad_output):
        scaled_query, key, value, shift, factor, offsets, probabilities, output = ctx.saved_tensors
        batch_size, num_heads, key_length, head_size = value.shape
        query_length = offsets.shape[0]
        rows = batch_size * num_heads
        grad_output = grad_output.reshape(rows, query_length, head_size)
        grad_value = torch.bmm(grad_output.transpose(1, 2), probabilities).transpose(1, 2)
        grad_scores = torch.bmm(grad_output, value.reshape(rows, key_length, head_size).transpose(1, 2))
        # sum_j dP_ij P_ij = dO_i . O_i: a reduction over d/H instead of over the keys.
        row_terms = (grad_output * output).sum(-1, keepdim=True)
        grad_scores.sub_(row_terms).mul_(probabilities)  # dS, also the gradient of the bias
        grad_query = torch.bmm(grad_scores, key.reshape(rows, key_length, head_size)).mul_(head_size**-0.5)
        grad_key = torch.bmm(scaled_query.transpose(1, 2), grad_scores).transpose(1, 2)
        # The window's sums over the keys: dS is 0 at padded keys (P is), and d, d^2 are 0 at the null key. dS is
        # multiplied in place (a new (B*H, Tq, Tk) buffer costs more than the product): it is not needed after.
        window_shape = (batch_size, num_heads, query_length, 1)
        null_key = grad_scores[..., :1].clone().view(window_shape)
        linear_sum = grad_scores.mul_(offsets).sum(-1, keepdim=True).view(window_shape)
        square_sum = grad_scores.mul_(offsets).sum(-1, keepdim=True).view(window_shape)
        grad_shift = -2.0 * factor * (linear_sum + shift * null_key)
        grad_factor = square_sum - 2.0 * shift * linear_sum - shift.square() * null_key
        return (
            grad_query.view(batch_size, num_heads, query_length, head_size),
            grad_key.reshape(batch_size, num_heads, key_length, head_size),
            grad_value.reshape(batch_size, num_heads, key_length, head_size),
            grad_shift,
            grad_factor,
            None,
            None,
        )


# What `config._attn_implementation` selects. Both take LAC's additive float bias; the flash kernels take none and
# flex attention would need the bias as a score function, so the model declares only these two.
ATTENTION_FUNCTIONS = {"eager": eager_attention, "sdpa": sdpa_attention}


class LocoAttentionBlock(GradientCheckpointingLayer):
    """Pre-LN transformer block, self- or cross-attention, optionally strided (stride 2 halves the length).

    `hidden_states` is the stream being updated: it always supplies the residual. For cross-attention `context` is
    the other stream, and `config.cross_attention_query_source` picks where the queries come from: "updated_stream"
    (LoCo) takes queries from the updated stream and keys/values from the context; "other_stream" (the UnAV code)
    takes queries from the context and keys, values from the updated stream. Each input has its own LayerNorm (UnAV's
    `ln11` for the updated stream, `ln12` for the context); a self-attention block has the second one only with
    `use_self_attention_query_norm`, and then takes its queries from it, as UnAV does. q, k and v each see a
    depthwise conv + LayerNorm before their projection, which is also how a strided block downsamples. Both residual branches carry
    layer scale and drop-path. The attention is dense: every valid key is reachable. The attention function is the
    one `config._attn_implementation` names ("sdpa" or "eager", see `ATTENTION_FUNCTIONS`), read at each call so
    that `model.set_attn_implementation(...)` applies at once. Under gradient checkpointing the block keeps only
    its inputs and recomputes the rest in the backward pass (`GradientCheckpointingLayer`).
    """

    def __init__(
        self,
        config: LocoConfig,
        hidden_size: int,
        num_heads: int,
        intermediate_size: int,
        stride: int = 1,
        is_cross_attention: bool = False,
    ):
        super().__init__()
        self.config = config
        self.num_heads = num_heads
        self.stride = stride
        self.drop_path_rate = config.drop_path_rate
        # ABLATION: cross_attention_query_source (unav-baseline uses "other_stream"). A self-attention block with
        # UnAV's second norm (use_self_attention_query_norm, unav-baseline) takes its queries from it, as UnAV does.
        self.query_from_context = (
            config.cross_attention_query_source == "other_stream"
            if is_cross_attention
            else config.use_self_attention_query_norm
        )
        self.reference_padding = config.reference_padding
        self.norm_hidden = nn.LayerNorm(hidden_size)
        self.norm_context = (
            nn.LayerNorm(hidden_size) if is_cross_attention or config.use_self_attention_query_norm else None
        )
        zero_padded_input = not config.reference_padding
        self.query = LocoConvProjection(hidden_size, stride, zero_padded_input)
        self.key = LocoConvProjection(hidden_size, stride, zero_padded_input)
        self.value = LocoConvProjection(hidden_size, stride, zero_padded_input)
        self.output = nn.Linear(hidden_size, hidden_size)
        # Built here, between the attention and the MLP: the parameter order sets the order of the summands of the
        # clipped global gradient norm, hence its last bits, so moving it changes trained weights (not the maths).
        self.build_key_restriction(config, hidden_size, num_heads)
        self.norm_mlp = nn.LayerNorm(hidden_size)
        self.mlp_in = nn.Linear(hidden_size, intermediate_size)
        self.mlp_out = nn.Linear(intermediate_size, hidden_size)
        self.attention_scale = nn.Parameter(torch.empty(hidden_size))
        self.mlp_scale = nn.Parameter(torch.empty(hidden_size))

    def forward(
        self,
        hidden_states: torch.Tensor,
        mask: torch.BoolTensor,
        context: torch.Tensor | None = None,
        drop_path_keeps: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.BoolTensor]:
        """
        Args:
            hidden_states (`torch.FloatTensor` of shape `(B, T, d)`): the stream being updated.
            mask (`torch.BoolTensor` of shape `(B, T)`): valid steps, shared by both streams.
            context (`torch.FloatTensor` of shape `(B, T, d)`, *optional*): the other stream (cross-attention).
            drop_path_keeps (two `torch.FloatTensor` of shape `(B, 1, 1)`, *optional*): drop-path's draws for the
                attention and MLP branches (`drop_path_keep`), when the caller draws them; else drawn here.
        Returns:
            The updated stream `(B, T / stride, d)` and its mask `(B, T / stride)`.
        """
        normed = self.norm_hidden(hidden_states)
        if self.norm_context is None:
            normed_context = normed
        else:
            normed_context = self.norm_context(hidden_states if context is None else context)
        query_source, key_source = (
            (normed_context, normed) if self.query_from_context else (normed, normed_context)
        )
        query, query_local, output_mask = self.query(query_source, mask)
        key, _, _ = self.key(key_source, mask)
        value, _, _ = self.value(key_source, mask)

        batch_size, length, hidden_size = query.shape
        # (B, T', d) -> (B, H, T', d/H)
        query, key, value = (
            t.view(batch_size, length, self.num_heads, hidden_size // self.num_heads).transpose(1, 2)
            for t in (query, key, value)
        )
        # Key padding as a finite large negative (never -inf), so a fully padded row stays finite instead of NaN.
        bias = torch.zeros(batch_size, 1, 1, length, device=query.device, dtype=torch.float32)
        bias = bias.masked_fill(~output_mask.view(batch_size, 1, 1, length), torch.finfo(torch.float32).min)
        attended = self.attend(query, key, value, bias, query_local)
        attended = attended.transpose(1, 2).reshape(
            batch_size, length, hidden_size
        )  # (B, H, T', d/H) -> (B, T', d)
        valid = output_mask.unsqueeze(-1).to(attended.dtype)
        attended = self.output(attended) * valid

        residual = hidden_states
        if self.stride > 1:
            # Max-pool the residual; padding is -inf inside the pool so a valid output never sees a padded zero.
            # reference_padding (converted UnAV checkpoints): UnAV pools over the padded steps' zeros.
            if not self.reference_padding:
                residual = residual.masked_fill(~mask.unsqueeze(-1), torch.finfo(residual.dtype).min)
            # (B, T, d) -> (B, d, T) -> pool -> (B, T / s, d)
            residual = F.max_pool1d(
                residual.transpose(1, 2), kernel_size=3, stride=self.stride, padding=1
            ).transpose(1, 2)
        # Padded steps of the updated stream leave the block at zero (UnAV's embedding output is not zero there).
        attention_keep, mlp_keep = drop_path_keeps or (None, None)
        hidden_states = residual * valid + drop_path(
            self.attention_scale * attended, self.drop_path_rate, self.training, attention_keep
        )
        mlp = self.mlp_out(F.gelu(self.mlp_in(self.norm_mlp(hidden_states)))) * valid
        hidden_states = hidden_states + drop_path(
            self.mlp_scale * mlp, self.drop_path_rate, self.training, mlp_keep
        )
        return hidden_states, output_mask

    def build_key_restriction(self, config: LocoConfig, hidden_size: int, num_heads: int):
        """The modules that restrict where a query may look (`attend`): none for dense attention."""

    @property
    def attention_implementation(self) -> str:
        """`config._attn_implementation`; unset (a block built outside a model) means transformers' default, sdpa."""
        return self.config._attn_implementation or "sdpa"

    def attend(self, query, key, value, bias, query_local):
        """
        Dense attention: every valid key, the key padding `bias` `(B, 1, 1, T')` alone.

        Args:
            query, key, value (`torch.FloatTensor` of shape `(B, H, T', d/H)`).
            bias (`torch.FloatTensor` of shape `(B, 1, 1, T')`): 0 at valid keys, a large negative at padded ones.
            query_local (`torch.FloatTensor` of shape `(B, T', d)`): the queries' local features (LAC's window).
        Returns:
            `torch.FloatTensor` of shape `(B, H, T', d/H)`.
        """
        return ATTENTION_FUNCTIONS[self.attention_implementation](query, key, value, bias)


class LocoLocalAdaptiveCrossAttention(LocoAttentionBlock):
    """LAC: a cross-modal attention block whose queries each look through their own Gaussian window, with a null key.

    The same block as `LocoAttentionBlock` (cross-attention, same parameters and convention), plus:
    * `local_window` (`LocoLocalWindow`) predicts from each query's local feature a width and a shift per head and
      adds the bias -(j - i - delta)^2 / (2 w^2) to the attention logits;
    * `null_key`: one learned key per head whose value is zero. A softmax must spend its weight somewhere, and
      without it a query whose window holds nothing of its kind (a one-modality event) takes in whatever the other
      stream has there; with it the query can take nothing;
    * the attention branch starts at layer scale `config.lac_layer_scale_init_value` (1), not the blocks' 1e-4: the
      window and the null key already decide what a query takes in (the MLP branch keeps `layer_scale_init_value`).
    """

    def __init__(
        self, config: LocoConfig, hidden_size: int, num_heads: int, intermediate_size: int, stride: int = 1
    ):
        super().__init__(config, hidden_size, num_heads, intermediate_size, stride, is_cross_attention=True)

    def build_key_restriction(self, config: LocoConfig, hidden_size: int, num_heads: int):
        """The window predictor and the null key (one `(d / H,)` key per head)."""
        self.local_window = LocoLocalWindow(config)
        self.null_key = nn.Parameter(torch.empty(num_heads, hidden_size // num_heads))

    def attend(self, query, key, value, bias, query_local):
        """
        The window bias where a key is valid, the key padding `bias` elsewhere, and the null key first with bias 0:
        keys and values `(B, H, 1 + T', d/H)`, bias `(B, H, T', 1 + T')`. Training on the CPU in float32 runs it
        as one `LocoWindowedAttention` under the "sdpa" implementation; elsewhere the bias is built in one pass and
        handed to the attention implementation. Arguments as in `LocoAttentionBlock.attend`.
        """
        length = key.shape[2]
        key, value = self.with_null_key(key, value)
        # Position -1 for the null key's column: computed with the others, then given its bias of 0.
        key_positions = torch.arange(-1, length, device=key.device, dtype=torch.float32)
        padding = F.pad(bias, (1, 0)).clamp(min=torch.finfo(key.dtype).min)  # (B, 1, 1, 1 + T')
        fused = (
            self.attention_implementation == "sdpa"
            and torch.is_grad_enabled()
            and query.device.type == "cpu"
            and query.dtype == torch.float32
        )
        if fused:
            shift, factor = self.local_window.window_shape(query_local)
            distances = key_distances(query_local.shape[1], key_positions)
            return LocoWindowedAttention.apply(query, key, value, shift, factor, distances, padding)
        window = self.local_window(query_local, key_positions)  # (B, H, T', 1 + T')
        keep = F.pad(bias == 0, (1, 0), value=False)  # (B, 1, 1, 1 + T'): valid keys, not the null key
        return ATTENTION_FUNCTIONS[self.attention_implementation](
            query, key, value, torch.where(keep, window, padding)
        )

    def with_null_key(self, key, value):
        """Prepends a learned key with a zero value (B, H, 1 + T', ...): a query may find nothing in its window."""
        batch_size, num_heads, _, head_size = key.shape
        null_key = self.null_key.to(key.dtype).view(1, num_heads, 1, head_size).expand(batch_size, -1, -1, -1)
        return torch.cat([null_key, key], dim=2), F.pad(value, (0, 0, 1, 0))


class LocoLocalCorrespondence(nn.Module):
    """LCF: Local Correspondence Feature modulation between the two streams, after one unimodal block.

    Both streams are projected to D' and L2-normalised (p_a, p_v). Local affinity S(t, s) = p_a(t) . p_v(s) for
    |t - s| <= r; alpha(t, .) = softmax(S(t, .) / tau) over the window; coherence c_a(t) = sum_s alpha S in [-1, 1];
    aligned counterpart v~(t) = sum_s alpha v(s). Modulation: a(t) += layer_scale * g_a(t) * W v~(t) with the gate
    g_a(t) = sigmoid(k c_a(t) + b); the visual side is symmetric. k > 0 and b are learned and shared with the
    correspondence loss, which trains sigmoid(k S(t, s) + b) as the probability that the pair (t, s) shows one
    audio-visual event: the gate is that probability for the best-aligned counterpart, calibrated rather than free
    to saturate. The projections read each stream with the shared position table subtracted: with it, aligned
    pairs are told apart by position instead of content. The modulation starts at layer scale
    `config.lcf_layer_scale_init_value` (1), not the blocks' 1e-4: the gate already shuts it where the streams do
    not correspond. With `config.lcf_stop_gradient` (the default) the projections read the streams through a
    stop-gradient: the pair logits (loss and gate) train LCF's projections, k and b, and not the unimodal encoders.
    """

    def __init__(self, config: LocoConfig):
        super().__init__()
        self.radius = config.lcf_radius
        self.temperature = config.lcf_temperature
        self.stop_gradient = config.lcf_stop_gradient
        self.audio_projection = nn.Linear(config.hidden_size, config.lcf_projection_dim)
        self.visual_projection = nn.Linear(config.hidden_size, config.lcf_projection_dim)
        self.audio_from_visual = nn.Linear(config.hidden_size, config.hidden_size)
        self.visual_from_audio = nn.Linear(config.hidden_size, config.hidden_size)
        # Pair logit k S + b (k = exp(pair_log_scale) > 0), shared by the gate and the correspondence loss.
        self.pair_log_scale = nn.Parameter(torch.empty(()))
        self.pair_bias = nn.Parameter(torch.empty(()))
        self.audio_scale = nn.Parameter(torch.empty(config.hidden_size))
        self.visual_scale = nn.Parameter(torch.empty(config.hidden_size))

    def align(self, affinity, key_states, key_window_mask):
        """Coherence (B, T) and locally aligned key states (B, T, d) from the affinities (B, T, W) of each query."""
        logits = (affinity / self.temperature).masked_fill(~key_window_mask, torch.finfo(affinity.dtype).min)
        alpha = logits.softmax(dim=-1)  # (B, T, W)
        coherence = (alpha * affinity).sum(-1)
        return coherence, local_weighted_sum(alpha.to(key_states.dtype), key_states)

    def forward(self, visual, audio, visual_position_free, audio_position_free, mask):
        """
        Args:
            visual, audio (`torch.FloatTensor` of shape `(B, T, d)`): the two streams after a unimodal block.
            visual_position_free, audio_position_free (`(B, T, d)`): the same with the position table subtracted.
            mask (`torch.BoolTensor` of shape `(B, T)`).
        Returns:
            visual, audio (modulated), the pair logits k S(t, t + o) + b `(B, T, 2r + 1)` (audio step t, visual
            step t + o, o = -r ... r) and the coherence `(2, B, T)` (audio, visual).
        """
        if self.stop_gradient:
            visual_position_free = visual_position_free.detach()
            audio_position_free = audio_position_free.detach()
        valid = mask.unsqueeze(-1)
        projected_visual = F.normalize(self.visual_projection(visual_position_free).float(), dim=-1) * valid
        projected_audio = F.normalize(self.audio_projection(audio_position_free).float(), dim=-1) * valid
        window_mask = local_window_mask(mask, self.radius)  # (B, T, W)
        # (B, T, D') x (B, T, D') -> (B, T, W): each step of one stream against the window of the other
        audio_affinity = local_dot_products(projected_audio, projected_visual, self.radius)
        # The same pairs seen from the visual side: visual step s at offset o is audio step s + o at offset -o.
        visual_affinity = local_windows(audio_affinity, self.radius).flip(-1).diagonal(dim1=2, dim2=3)
        audio_coherence, visual_for_audio = self.align(audio_affinity, visual, window_mask)
        visual_coherence, audio_for_visual = self.align(visual_affinity, audio, window_mask)
        scale = self.pair_log_scale.exp()
        audio_gate = torch.sigmoid(scale * audio_coherence + self.pair_bias).unsqueeze(-1)
        visual_gate = torch.sigmoid(scale * visual_coherence + self.pair_bias).unsqueeze(-1)
        valid = valid.to(audio.dtype)
        audio = (
            audio
            + self.audio_scale
            * (audio_gate * self.audio_from_visual(visual_for_audio)).to(audio.dtype)
            * valid
        )
        visual = (
            visual
            + self.visual_scale
            * (visual_gate * self.visual_from_audio(audio_for_visual)).to(visual.dtype)
            * valid
        )
        coherence = torch.stack([audio_coherence, visual_coherence]) * mask
        return visual, audio, scale * audio_affinity + self.pair_bias, coherence


class LocoDependencyBlock(nn.Module):
    """UnAV's temporal and class co-occurrence block, shared across levels.

    Expands the fused level feature to one small feature per class, runs self-attention over time for each class
    and over classes for each step, sums the two, and squeezes back: 2d -> C x h -> 2d. The output replaces the
    level feature. Unlike the UnAV code (which tiles the batch mask in the wrong order), each (video, class) row
    uses its own video's mask, unless `reference_padding`.

    Under gradient checkpointing the block is checkpointed one video at a time: its per-class expansion (C x h
    channels per step) holds most of a training step's activations, and the backward pass then recomputes one
    video's expansion at a time instead of the batch's. Drop-path's draws are made for the whole batch first, in the
    order the unchunked block makes them, so the result does not depend on the chunking. With `reference_padding`
    the videos' rows are mixed (UnAV's mask tiling) and the block is checkpointed as a whole.
    """

    gradient_checkpointing = False

    def __init__(self, config: LocoConfig):
        super().__init__()
        fused_size = 2 * config.hidden_size
        self.num_classes = config.num_labels
        self.class_size = config.dependency_hidden_size
        self.drop_path_rate = config.drop_path_rate
        zero_padded_input = not config.reference_padding
        self.expand = LocoMaskedConv1d(
            fused_size, self.num_classes * self.class_size, 3, zero_padded_input=zero_padded_input, bias=False
        )
        self.temporal = LocoAttentionBlock(config, self.class_size, 1, self.class_size)
        self.co_occurrence = LocoAttentionBlock(config, self.class_size, 1, self.class_size)
        self.squeeze = LocoMaskedConv1d(
            self.num_classes * self.class_size, fused_size, 3, zero_padded_input=zero_padded_input, bias=False
        )
        self.reference_padding = config.reference_padding

    def forward(self, hidden_states: torch.Tensor, mask: torch.BoolTensor) -> torch.Tensor:
        """
        Args:
            hidden_states (`torch.FloatTensor` of shape `(B, T, 2d)`): the fused level feature.
            mask (`torch.BoolTensor` of shape `(B, T)`).
        Returns:
            `torch.FloatTensor` of shape `(B, T, 2d)`.
        """
        if not (self.gradient_checkpointing and self.training and torch.is_grad_enabled()):
            return self.dependencies(hidden_states, mask)
        batch_size, length, _ = hidden_states.shape
        keeps = self.drop_path_keeps(hidden_states)
        videos_per_chunk = batch_size if self.reference_padding else 1
        chunks = []
        for start in range(0, batch_size, videos_per_chunk):
            stop = start + videos_per_chunk
            class_rows = slice(start * self.num_classes, stop * self.num_classes)
            step_rows = slice(start * length, stop * length)
            temporal_keeps, co_occurrence_keeps = (
                (None, None)
                if keeps is None
                else (tuple(k[class_rows] for k in keeps[:2]), tuple(k[step_rows] for k in keeps[2:]))
            )
            chunks.append(
                self._gradient_checkpointing_func(
                    self.dependencies,
                    hidden_states[start:stop],
                    mask[start:stop],
                    temporal_keeps,
                    co_occurrence_keeps,
                )
            )
        return torch.cat(chunks)

    def drop_path_keeps(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, ...] | None:
        """Drop-path's draws of the inner blocks for the whole batch, in the order `dependencies` would make them:
        temporal attention and MLP (B*C rows), then co-occurrence attention and MLP (B*T rows). None when off."""
        if self.drop_path_rate == 0.0 or not self.training:
            return None
        batch_size, length, _ = hidden_states.shape
        class_rows, step_rows = batch_size * self.num_classes, batch_size * length
        return tuple(
            drop_path_keep(hidden_states, rows, self.drop_path_rate)
            for rows in (class_rows, class_rows, step_rows, step_rows)
        )

    def dependencies(
        self,
        hidden_states: torch.Tensor,
        mask: torch.BoolTensor,
        temporal_keeps: tuple[torch.Tensor, torch.Tensor] | None = None,
        co_occurrence_keeps: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """The block on a batch (or a chunk of it): (B, T, 2d) -> (B, T, 2d). The keeps are drop-path's draws of the
        inner blocks (`drop_path_keeps`, sliced to the chunk); without them the inner blocks draw their own."""
        batch_size, length, _ = hidden_states.shape
        expanded, _ = self.expand(hidden_states, mask)
        expanded = F.relu(expanded).view(
            batch_size, length, self.num_classes, self.class_size
        )  # (B, T, C, h)
        # Over time, per class: (B, T, C, h) -> (B*C, T, h)
        per_class = expanded.permute(0, 2, 1, 3).reshape(
            batch_size * self.num_classes, length, self.class_size
        )
        if self.reference_padding:
            # reference_padding (converted UnAV checkpoints): UnAV gives row k the mask of video k mod B.
            class_mask = mask.repeat(self.num_classes, 1)
        else:
            class_mask = mask.repeat_interleave(self.num_classes, dim=0)  # row b*C + c belongs to video b
        temporal, _ = self.temporal(per_class, class_mask, drop_path_keeps=temporal_keeps)
        temporal = temporal.view(batch_size, self.num_classes, length, self.class_size).permute(0, 2, 1, 3)
        # Over classes, per step: (B, T, C, h) -> (B*T, C, h); every class is a valid key.
        per_step = expanded.reshape(batch_size * length, self.num_classes, self.class_size)
        all_classes = torch.ones(per_step.shape[:2], dtype=torch.bool, device=per_step.device)
        co_occurrence, _ = self.co_occurrence(per_step, all_classes, drop_path_keeps=co_occurrence_keeps)
        co_occurrence = co_occurrence.view(batch_size, length, self.num_classes, self.class_size)
        # The temporal branch leaves padded steps as its mask says; the co-occurrence branch sees every class of a
        # padded step as valid, so its output there is zeroed (UnAV zeroes it inside the block).
        combined = temporal + co_occurrence * mask.view(batch_size, length, 1, 1)
        squeezed, _ = self.squeeze(combined.flatten(2), mask)  # (B, T, C*h) -> (B, T, 2d)
        return squeezed


# ---------------------------------------------------------------------------------------------------------------
# Heads
# ---------------------------------------------------------------------------------------------------------------


class LocoHeadTrunk(nn.Module):
    """num_head_layers x [masked conv k3 -> LayerNorm -> ReLU], then a masked conv k3 to `output_size`."""

    def __init__(self, config: LocoConfig, output_size: int, output_bias: bool = True):
        super().__init__()
        dims = [2 * config.hidden_size] + [config.head_hidden_size] * config.num_head_layers
        zero_padded_input = not config.reference_padding
        self.convs = nn.ModuleList(
            LocoMaskedConv1d(dims[i], dims[i + 1], 3, zero_padded_input=zero_padded_input, bias=False)
            for i in range(len(dims) - 1)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(config.head_hidden_size) for _ in self.convs)
        self.output = LocoMaskedConv1d(
            dims[-1], output_size, 3, zero_padded_input=zero_padded_input, bias=output_bias
        )

    def forward(self, hidden_states: torch.Tensor, mask: torch.BoolTensor) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms, strict=True):
            hidden_states, _ = conv(hidden_states, mask)
            hidden_states = F.relu(norm(hidden_states))
        output, _ = self.output(hidden_states, mask)
        return output


class LocoClassificationHead(LocoHeadTrunk):
    """Shared across levels: (B, T_l, 2d) -> class logits (B, T_l, C); output bias starts at the class prior."""

    def __init__(self, config: LocoConfig):
        super().__init__(config, config.num_labels, output_bias=False)
        # Its own parameter, so the prior set in _init_weights is not overwritten by the generic conv init.
        self.prior_bias = nn.Parameter(torch.empty(config.num_labels))

    def forward(self, hidden_states: torch.Tensor, mask: torch.BoolTensor) -> torch.Tensor:
        return (super().forward(hidden_states, mask) + self.prior_bias) * mask.unsqueeze(-1)


class LocoRegressionHead(LocoHeadTrunk):
    """Shared across levels: (B, T_l, 2d) -> class-aware offsets (B, T_l, C, 2) >= 0, with one scale per level."""

    def __init__(self, config: LocoConfig):
        super().__init__(config, 2 * config.num_labels)
        self.level_scales = nn.Parameter(torch.empty(config.num_pyramid_levels))

    def forward(self, hidden_states: torch.Tensor, mask: torch.BoolTensor, level: int) -> torch.Tensor:
        offsets = super().forward(hidden_states, mask) * self.level_scales[level]
        # (B, T_l, 2C) -> (B, T_l, C, 2): channel 2c is the left offset of class c, 2c + 1 its right offset.
        return F.relu(offsets).unflatten(-1, (-1, 2))


# ---------------------------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------------------------


# The weights that each switch adds to the network (state-dict keys, with or without the "loco." prefix). The query
# norm also sits in the dependency block's self-attention blocks: the dependency block's pattern leaves it out.
SWITCHED_WEIGHTS = {
    "use_lcf": (re.compile(r"(^|\.)correspondence\."), "LCF"),
    "use_lac": (re.compile(r"(^|\.)(visual|audio)_pyramid\.\d+\.(local_window\.|null_key$)"), "LAC"),
    "use_dependency_block": (re.compile(r"(^|\.)dependency\.(?!\w+\.norm_context\.)"), "dependency-block"),
    "use_self_attention_query_norm": (
        re.compile(r"(^|\.)((visual|audio)_encoder\.\d+|dependency\.\w+)\.norm_context\."),
        "self-attention query-norm",
    ),
}


def check_switched_weights(missing_keys, unexpected_keys, checkpoint: str) -> None:
    """Raises a ValueError when a checkpoint's weights and the config's switches (`SWITCHED_WEIGHTS`) disagree.

    A module the config switches on whose weights the checkpoint lacks would start from random weights; weights of a
    module the config switches off would be dropped. Either way the model would give other outputs than the one
    saved, so loading stops and names the switch. Other missing or unexpected keys are left to transformers.
    """
    for switch, (pattern, module) in SWITCHED_WEIGHTS.items():
        missing = sorted(key for key in missing_keys if pattern.search(key))
        unexpected = sorted(key for key in unexpected_keys if pattern.search(key))
        if missing:
            raise ValueError(
                f"{checkpoint} has no {module} weights (e.g. {missing[0]!r}), but the config sets {switch}=True: the "
                f"weights were saved with {switch}=False. Load it with the config.json it was saved with."
            )
        if unexpected:
            raise ValueError(
                f"{checkpoint} holds {module} weights (e.g. {unexpected[0]!r}), but the config sets {switch}=False: "
                f"the weights were saved with {switch}=True. Load it with the config.json it was saved with."
            )


class LocoPreTrainedModel(PreTrainedModel):
    config: LocoConfig
    config_class = LocoConfig
    base_model_prefix = "loco"
    main_input_name = "visual_features"
    input_modalities = ["video", "audio"]
    _no_split_modules = ["LocoAttentionBlock", "LocoLocalAdaptiveCrossAttention", "LocoDependencyBlock"]
    # "sdpa" (the default) or "eager": see ATTENTION_FUNCTIONS.
    _supports_sdpa = True
    supports_gradient_checkpointing = True

    def _set_gradient_checkpointing(self, enable: bool = True, **kwargs):
        """Checkpoints every attention block and the dependency block, not the two attention blocks inside the
        latter: they already run inside its checkpoint, and a nested one would only recompute them a second time."""
        super()._set_gradient_checkpointing(enable, **kwargs)
        for module in self.modules():
            if isinstance(module, LocoDependencyBlock):
                module.temporal.gradient_checkpointing = False
                module.co_occurrence.gradient_checkpointing = False

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """`PreTrainedModel.from_pretrained`, refusing weights that disagree with the config's switches.

        Raises:
            ValueError naming the switch (`use_lcf`, `use_lac`, `use_dependency_block` or
            `use_self_attention_query_norm`) when the checkpoint lacks
            the weights of a module the config switches on, or holds those of one it switches off
            (`check_switched_weights`).
        """
        output_loading_info = kwargs.pop("output_loading_info", False)
        model, loading_info = super().from_pretrained(
            pretrained_model_name_or_path, *args, output_loading_info=True, **kwargs
        )
        check_switched_weights(
            loading_info["missing_keys"],
            loading_info["unexpected_keys"],
            f"The checkpoint {str(pretrained_model_name_or_path)!r}",
        )
        return (model, loading_info) if output_loading_info else model

    @torch.no_grad()
    def _init_weights(self, module):
        stream = getattr(module, "own_random_stream", None)
        if stream is None:
            self._init_module_weights(module)
            return
        # A stream per module, derived from the global seed: LCF's initial weights change with the seed like the
        # rest, but drawing them neither consumes the global stream nor repeats another module's draws.
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed((torch.initial_seed() + stream) % 2**63)
            self._init_module_weights(module)

    def _init_module_weights(self, module):
        config = self.config
        if isinstance(module, (nn.Linear, nn.Conv1d)):
            if config.initializer == "unav":
                # unav-baseline: UnAV keeps PyTorch's default weights (uniform, bound 1 / sqrt(fan_in)).
                init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            else:
                init.normal_(module.weight, mean=0.0, std=config.initializer_range)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        if isinstance(module, LocoLocalAdaptiveCrossAttention):
            init.constant_(module.attention_scale, config.lac_layer_scale_init_value)
            init.constant_(module.mlp_scale, config.layer_scale_init_value)
            init.zeros_(module.null_key)
        elif isinstance(module, LocoAttentionBlock):
            init.constant_(module.attention_scale, config.layer_scale_init_value)
            init.constant_(module.mlp_scale, config.layer_scale_init_value)
        elif isinstance(module, LocoLocalWindow):
            init.zeros_(module.width_weight)
            init.zeros_(module.shift_weight)
            init.zeros_(module.shift_bias)
            init.copy_(module.width_bias, module.initial_width_logits(config.lac_initial_windows))
        elif isinstance(module, LocoLocalCorrespondence):
            init.constant_(module.pair_log_scale, -math.log(config.lcf_temperature))
            init.zeros_(module.pair_bias)
            init.constant_(module.audio_scale, config.lcf_layer_scale_init_value)
            init.constant_(module.visual_scale, config.lcf_layer_scale_init_value)
        elif isinstance(module, LocoClassificationHead):
            prior = config.classification_prior_prob
            init.constant_(module.prior_bias, -math.log((1 - prior) / prior))
        elif isinstance(module, LocoRegressionHead):
            init.ones_(module.level_scales)
        elif isinstance(module, LocoForEventLocalization):
            init.constant_(module.loss_normalizer, config.loss_normalizer_init)


class LocoModel(LocoPreTrainedModel):
    """Features of both streams -> the fused cross-modal feature pyramid, flattened over levels."""

    def __init__(self, config: LocoConfig):
        super().__init__(config)
        self.visual_embedding = LocoEmbedding(config, config.visual_dim)
        self.audio_embedding = LocoEmbedding(config, config.audio_dim)
        block_sizes = (config.hidden_size, config.num_attention_heads, config.intermediate_size)
        self.visual_encoder = nn.ModuleList(
            LocoAttentionBlock(config, *block_sizes) for _ in range(config.num_unimodal_layers)
        )
        self.audio_encoder = nn.ModuleList(
            LocoAttentionBlock(config, *block_sizes) for _ in range(config.num_unimodal_layers)
        )
        # ABLATION: use_lcf (unav-baseline turns it off). LCF draws its random weights from streams of its own, here
        # and in `_init_weights`, so that switching it leaves the global random stream, hence every other module's
        # initial weights and every later draw (drop-path), as they are: variants trained with one seed differ only
        # in the switched module.
        with torch.random.fork_rng(devices=[]):
            self.correspondence = (
                nn.ModuleList(LocoLocalCorrespondence(config) for _ in range(config.num_unimodal_layers))
                if config.use_lcf
                else None
            )
        if self.correspondence is not None:
            for stream, module in enumerate(self.correspondence.modules(), start=1):
                module.own_random_stream = stream
        # Level 0 at stride 1, then one stride-2 block per further level, for each direction.
        strides = [1] + [2] * (config.num_pyramid_levels - 1)
        # ABLATION: use_lac (unav-baseline turns it off and uses dense cross-attention)
        cross_attention = (
            LocoLocalAdaptiveCrossAttention
            if config.use_lac
            else partial(LocoAttentionBlock, is_cross_attention=True)
        )
        self.visual_pyramid = nn.ModuleList(
            cross_attention(config, *block_sizes, stride) for stride in strides
        )
        self.audio_pyramid = nn.ModuleList(
            cross_attention(config, *block_sizes, stride) for stride in strides
        )
        # ABLATION: use_dependency_block
        self.dependency = LocoDependencyBlock(config) if config.use_dependency_block else None
        self.post_init()

    def encode_unimodal(self, visual, audio, mask):
        """Embeddings, position table and unimodal blocks with LCF after each. Returns streams and LCF outputs."""
        positions = position_embeddings(mask, self.config).to(visual.dtype)
        visual = self.visual_embedding(visual, mask) + positions
        audio = self.audio_embedding(audio, mask) + positions
        pair_logits, coherences = [], []
        for layer, (visual_block, audio_block) in enumerate(
            zip(self.visual_encoder, self.audio_encoder, strict=True)
        ):
            visual, _ = visual_block(visual, mask)
            audio, _ = audio_block(audio, mask)
            if self.correspondence is not None:
                visual, audio, layer_pair_logits, coherence = self.correspondence[layer](
                    visual, audio, visual - positions, audio - positions, mask
                )
                pair_logits.append(layer_pair_logits)
                coherences.append(coherence)
        lcf = (torch.stack(pair_logits), torch.stack(coherences)) if coherences else (None, None)
        return visual, audio, lcf

    @can_return_tuple
    def forward(
        self,
        visual_features: torch.FloatTensor,
        audio_features: torch.FloatTensor,
        attention_mask: torch.LongTensor | None = None,
        output_hidden_states: bool | None = None,
    ) -> LocoModelOutput | tuple:
        """
        Args:
            visual_features (`torch.FloatTensor` of shape `(batch_size, seq_len, visual_dim)`): per-step visual
                features, zero-padded.
            audio_features (`torch.FloatTensor` of shape `(batch_size, seq_len, audio_dim)`): per-step audio features.
            attention_mask (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*): 1 for valid steps.
                seq_len must be divisible by the largest pyramid stride (the feature extractor pads so).
            output_hidden_states (`bool`, *optional*, defaults to `config.output_hidden_states`): also return the
                fused feature of each pyramid level as `hidden_states`.
            return_dict (`bool`, *optional*, defaults to `config.return_dict`): `False` returns
                `LocoModelOutput.to_tuple()` (the fields that are not None, in order) instead of the dataclass.

        Any other keyword argument raises a TypeError.
        """
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        visual_features, audio_features, mask = self.check_inputs(
            visual_features, audio_features, attention_mask
        )
        visual, audio, (pair_logits, coherence) = self.encode_unimodal(visual_features, audio_features, mask)
        level_features, level_masks = [], []
        level_mask = mask
        for visual_block, audio_block in zip(self.visual_pyramid, self.audio_pyramid, strict=True):
            new_visual, new_mask = visual_block(visual, level_mask, audio)
            audio, _ = audio_block(audio, level_mask, visual)
            visual, level_mask = new_visual, new_mask
            fused = torch.cat([visual, audio], dim=-1)  # (B, T_l, 2d)
            if self.dependency is not None:
                fused = self.dependency(fused, level_mask)
            level_features.append(fused)
            level_masks.append(level_mask)
        padded_length = mask.shape[1]
        point_positions, point_strides, point_ranges = make_points(
            padded_length, self.config, device=mask.device
        )
        return LocoModelOutput(
            last_hidden_state=torch.cat(level_features, dim=1),  # L x (B, T_l, 2d) -> (B, P, 2d)
            point_positions=point_positions,
            point_strides=point_strides,
            point_ranges=point_ranges,
            point_mask=torch.cat(level_masks, dim=1),
            padded_length=padded_length,
            lcf_pair_logits=pair_logits,
            lcf_coherence=coherence,
            hidden_states=tuple(level_features) if output_hidden_states else None,
        )

    def check_inputs(self, visual_features, audio_features, attention_mask):
        """Validates shapes, converts the mask to bool once and pads T to a multiple of the largest stride."""
        config = self.config
        if visual_features.ndim != 3 or audio_features.ndim != 3:
            raise ValueError(
                "visual_features and audio_features must be (batch_size, seq_len, dim), got "
                f"{tuple(visual_features.shape)} and {tuple(audio_features.shape)}."
            )
        if visual_features.shape[-1] != config.visual_dim or audio_features.shape[-1] != config.audio_dim:
            raise ValueError(
                f"Expected visual_dim={config.visual_dim} and audio_dim={config.audio_dim}, got "
                f"{visual_features.shape[-1]} and {audio_features.shape[-1]}."
            )
        if visual_features.shape[:2] != audio_features.shape[:2]:
            raise ValueError(
                f"visual_features {tuple(visual_features.shape[:2])} and audio_features "
                f"{tuple(audio_features.shape[:2])} must share (batch_size, seq_len)."
            )
        if attention_mask is None:
            mask = torch.ones(visual_features.shape[:2], dtype=torch.bool, device=visual_features.device)
        else:
            mask = attention_mask.bool()
        padding = -visual_features.shape[1] % config.max_stride
        if padding:
            visual_features = F.pad(visual_features, (0, 0, 0, padding))
            audio_features = F.pad(audio_features, (0, 0, 0, padding))
            mask = F.pad(mask, (0, padding))
        valid = mask.unsqueeze(-1).to(visual_features.dtype)
        return visual_features * valid, audio_features * valid, mask


class LocoForEventLocalization(LocoPreTrainedModel):
    """LoCo with its classification and regression heads, label assignment and losses."""

    def __init__(self, config: LocoConfig):
        super().__init__(config)
        self.loco = LocoModel(config)
        self.classification_head = LocoClassificationHead(config)
        self.regression_head = LocoRegressionHead(config)
        # EMA of the positive-point count that divides the losses; persistent so a resumed run continues it.
        self.register_buffer("loss_normalizer", torch.empty(()), persistent=True)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        visual_features: torch.FloatTensor,
        audio_features: torch.FloatTensor,
        attention_mask: torch.LongTensor | None = None,
        labels: list[dict[str, torch.Tensor]] | None = None,
        output_hidden_states: bool | None = None,
    ) -> LocoEventLocalizationOutput | tuple:
        r"""
        Args:
            visual_features (`torch.FloatTensor` of shape `(batch_size, seq_len, visual_dim)`): visual features.
            audio_features (`torch.FloatTensor` of shape `(batch_size, seq_len, audio_dim)`): audio features.
            attention_mask (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*): 1 for valid steps.
            labels (`list[dict]` of length `batch_size`, *optional*): per video, `class_labels`
                (`torch.LongTensor` of shape `(k,)`) and `segments` (`torch.FloatTensor` of shape `(k, 2)`, start
                and end in steps). When given, the output carries the loss and its components.
            output_hidden_states (`bool`, *optional*, defaults to `config.output_hidden_states`): also return the
                fused feature of each pyramid level as `hidden_states` (see [`LocoModelOutput`]).
            return_dict (`bool`, *optional*, defaults to `config.return_dict`): `False` returns
                `LocoEventLocalizationOutput.to_tuple()` (the fields that are not None, in order; the loss first when
                `labels` is given) instead of the dataclass.

        Any other keyword argument raises a TypeError.
        """
        base = self.loco(
            visual_features,
            audio_features,
            attention_mask,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        lengths = level_lengths(base.padded_length, self.config.pyramid_strides)
        logits, offsets = [], []
        for level, (features, level_mask) in enumerate(
            zip(
                base.last_hidden_state.split(lengths, dim=1),
                base.point_mask.split(lengths, dim=1),
                strict=True,
            )
        ):
            logits.append(self.classification_head(features, level_mask))
            offsets.append(self.regression_head(features, level_mask, level))
        logits = torch.cat(logits, dim=1)  # L x (B, T_l, C) -> (B, P, C)
        segment_offsets = torch.cat(offsets, dim=1)  # L x (B, T_l, C, 2) -> (B, P, C, 2)

        loss, components = None, {}
        if labels is not None:
            loss, components = self.loss(logits, segment_offsets, base, labels)
        return LocoEventLocalizationOutput(
            loss=loss,
            classification_loss=components.get("classification_loss"),
            regression_loss=components.get("regression_loss"),
            lcf_loss=components.get("lcf_loss"),
            logits=logits,
            segment_offsets=segment_offsets,
            point_positions=base.point_positions,
            point_strides=base.point_strides,
            point_mask=base.point_mask,
            lcf_coherence=base.lcf_coherence,
            hidden_states=base.hidden_states,
        )

    def save_pretrained(self, save_directory, *args, **kwargs):
        """
        `PreTrainedModel.save_pretrained`, and the checkpoint also loads as the event localization pipeline:
        `transformers.pipeline(model=save_directory, trust_remote_code=True)` works without loco-hf installed.
        `push_to_hub` saves through here, so a pushed model loads the same way.
        """
        # The pipeline module travels with the model code: transformers copies every module that this file imports
        # relatively, the import below included, and the config records the task (as `Pipeline.save_pretrained`
        # does). Imported here so that the model does not load the pipeline machinery until it is saved.
        from .pipeline_loco import custom_pipelines_entry

        self.config.custom_pipelines = custom_pipelines_entry()
        return super().save_pretrained(save_directory, *args, **kwargs)

    def loss(self, logits, segment_offsets, base: LocoModelOutput, labels):
        """Assigns targets, updates the loss normaliser (training only) and adds up the weighted loss terms.

        Returns:
            The total loss (a float32 scalar with gradient) and a dict of its detached components.
        """
        if len(labels) != logits.shape[0]:
            raise ValueError(f"labels must hold one dict per video ({logits.shape[0]}), got {len(labels)}.")
        config = self.config
        segments, classes, valid = pad_labels(labels, config.num_labels, logits.device)
        num_steps = base.point_mask[:, : base.padded_length].sum(1)  # level 0's mask is the input mask
        margin_steps = config.feature_window / (2 * config.feature_stride)
        check_labels(segments, classes, valid, num_steps, config.num_labels, margin_steps)
        classification_targets, regression_targets = assign_labels(
            base.point_positions,
            base.point_strides,
            base.point_ranges,
            segments,
            classes,
            valid,
            config.num_labels,
        )
        if self.training:
            # The one state change in forward: UnAV's EMA of the positive-point count (momentum 0.9, start 250).
            num_positive = ((classification_targets.sum(-1) > 0) & base.point_mask).sum().float()
            momentum = config.loss_normalizer_momentum
            self.loss_normalizer.mul_(momentum).add_((1 - momentum) * num_positive.clamp(min=1))
        if base.lcf_pair_logits is not None:
            seq_len = base.padded_length
            step_classes = step_event_classes(segments, classes, valid, seq_len, config.num_labels)
            lcf_loss = torch.stack(
                [
                    local_correspondence_loss(
                        pair_logits, base.point_mask[:, :seq_len], config.lcf_radius, step_classes
                    )
                    for pair_logits in base.lcf_pair_logits
                ]
            ).mean()
        else:
            lcf_loss = logits.new_zeros((), dtype=torch.float32)
        classification_loss, regression_loss = compute_loss(
            logits, segment_offsets, classification_targets, regression_targets, base.point_mask,
            self.loss_normalizer, config.focal_alpha, config.focal_gamma,
        )  # fmt: skip
        loss = (
            classification_loss
            + config.regression_loss_weight * regression_loss
            + config.lcf_loss_weight * lcf_loss
        )
        components = {
            "classification_loss": classification_loss.detach(),
            "regression_loss": regression_loss.detach(),
            "lcf_loss": lcf_loss.detach(),
        }
        return loss, components


__all__ = ["LocoForEventLocalization", "LocoModel", "LocoPreTrainedModel"]
