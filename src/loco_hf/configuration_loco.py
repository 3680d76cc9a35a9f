# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Configuration of LoCo, Locality-aware Cross-modal Correspondence learning (Xing et al., arXiv 2409.07967).

LoCo localises dense audio-visual events from pre-extracted per-step visual and audio features. It extends the
UnAV baseline (Geng et al., CVPR 2023) with two modules:

* LCF, Local Correspondence Feature modulation: local cross-modal coherence modulates the unimodal encoders;
* LAC, Local Adaptive Cross-modal interaction: cross-modal attention with a data-driven local window.

The `unav-baseline` preset is the UnAV baseline: both switched off, `cross_attention_query_source="other_stream"`,
and UnAV's self-attention query norm, initialisation and position-table rule; `reference_padding=True` adds UnAV's
handling of padded steps, for converted UnAV checkpoints (`loco_hf.convert_unav_checkpoint`).
"""

import math
import warnings

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

__all__ = ["PRESETS", "UNAV100_CLASS_NAMES", "LocoConfig"]

# The 100 UnAV-100 classes in label-id order, as in the `label`/`label_id` pairs of unav100_annotations.json.
UNAV100_CLASS_NAMES = [
    "man speaking", "woman speaking", "kid speaking", "male singing", "people laughing", "car passing by",
    "baby laughter", "wind noise", "people clapping", "people shouting", "people crowd", "female singing",
    "dog barking", "playing acoustic guitar", "people eating", "people cheering", "basketball bounce",
    "engine knocking", "playing tennis", "baby babbling", "striking bowling", "playing badminton", "cat meowing",
    "people slapping", "playing piano", "baby crying", "people burping", "orchestra", "playing drum kit",
    "playing violin", "machine gun shooting", "child singing", "people nose blowing", "playing electronic organ",
    "people sneezing", "dog howling", "skateboarding", "playing base guitar", "auto racing", "sea waves",
    "playing table tennis", "people coughing", "people whispering", "playing ukulele", "sheep bleating",
    "playing tabla", "fire truck siren", "playing volleyball", "beat boxing", "playing trumpet", "thunder",
    "playing cello", "playing harp", "hammering nails", "people running", "sailing", "telephone bell ringing",
    "frog croaking", "driving motorcycle", "playing cornet", "playing clarinet", "train wheels squealing",
    "playing flute", "playing trombone", "playing erhu", "bull bellowing", "raining", "skidding",
    "chainsawing trees", "police car siren", "playing saxophone", "fireworks banging", "driving buses",
    "tap dancing", "airplane flyby", "people whistling", "train horning", "vacuum cleaner cleaning floors",
    "playing accordion", "bird chirping", "vehicle honking", "church bell ringing", "playing snare drum",
    "playing synthesizer", "typing on computer keyboard", "singing choir", "lions roaring", "people slurping",
    "helicopter", "horse clip-clop", "water burbling", "lawn mowing", "playing banjo", "playing zither",
    "playing harmonica", "people battle cry", "people sobbing", "ambulance siren", "rope skipping",
    "hair dryer drying",
]  # fmt: skip

_UNAV_REGRESSION_RANGES = [[0.0, 4.0], [4.0, 8.0], [8.0, 16.0], [16.0, 32.0], [32.0, 64.0], [64.0, 10000.0]]


def _label_maps(names: list[str]) -> dict:
    id2label = dict(enumerate(names))
    return {"id2label": id2label, "label2id": {name: i for i, name in id2label.items()}}


# Each preset is a dict of overrides of the LocoConfig defaults (which are the UnAV-100 I3D + VGGish setting).
PRESETS: dict[str, dict] = {
    "unav100-i3d-vggish": {**_label_maps(UNAV100_CLASS_NAMES)},
    "unav100-onepeace": {
        **_label_maps(UNAV100_CLASS_NAMES),
        "visual_dim": 1536,
        "audio_dim": 1536,
        "fps": 16.0,
        "feature_stride": 4,
        "feature_window": 16,
        "max_seq_len": 256,
    },
    "unav-baseline": {
        **_label_maps(UNAV100_CLASS_NAMES),
        "use_lcf": False,
        "use_lac": False,
        "cross_attention_query_source": "other_stream",
        "use_self_attention_query_norm": True,
        "initializer": "unav",
        "position_interpolation": "linear",
    },
    # A CPU-sized network: the time grid and pyramid of UnAV-100, narrower layers and no dependency block (at this
    # width the block costs about half of a CPU step, which a short schedule spends better on more steps). Its 20
    # classes are named by the data set it is trained on.
    "small": {
        "num_labels": 20,
        "visual_dim": 256,
        "audio_dim": 128,
        "hidden_size": 64,
        "num_attention_heads": 4,
        "intermediate_size": 256,
        "lcf_projection_dim": 32,
        "use_dependency_block": False,
        "dependency_hidden_size": 16,
        "head_hidden_size": 64,
    },
}
DEFAULT_PRESET = "unav100-i3d-vggish"

CROSS_ATTENTION_QUERY_SOURCES = ("updated_stream", "other_stream")

# Deprecated fields still read from saved configurations: the query source under its old name and values, and
# switches whose one supported value is built in (any other value asks for a network this code does not build).
_OLD_QUERY_SOURCE_VALUES = {"self": "updated_stream", "other": "other_stream"}
_REMOVED_FIELDS = {"lac_null_key": True}
# Every old field name `LocoConfig` and `from_preset` still accept (with a FutureWarning).
DEPRECATED_FIELDS = ("cross_attention_queries", *_REMOVED_FIELDS)


def _upgrade_old_fields(fields: dict) -> dict:
    """Maps the fields of an older configuration (a config.json or `from_preset` overrides) to the current ones.

    `cross_attention_queries` ("self" / "other") becomes `cross_attention_query_source` ("updated_stream" /
    "other_stream"), with a FutureWarning. A removed field is dropped with a FutureWarning when it holds the value
    that is now built in, and raises a ValueError otherwise.
    """
    if "cross_attention_queries" in fields:
        old = fields.pop("cross_attention_queries")
        if old not in _OLD_QUERY_SOURCE_VALUES:
            raise ValueError(
                f"LocoConfig.cross_attention_queries must be one of {tuple(_OLD_QUERY_SOURCE_VALUES)}, got {old!r}."
            )
        new = _OLD_QUERY_SOURCE_VALUES[old]
        warnings.warn(
            f"LocoConfig.cross_attention_queries={old!r} is deprecated: use cross_attention_query_source={new!r}.",
            FutureWarning,
            stacklevel=4,
        )
        fields.setdefault("cross_attention_query_source", new)
    for name, built_in in _REMOVED_FIELDS.items():
        if name not in fields:
            continue
        value = fields.pop(name)
        if value != built_in:
            raise ValueError(
                f"LocoConfig.{name}={value!r} is no longer supported: this version always uses {built_in!r}."
            )
        warnings.warn(
            f"LocoConfig.{name} is deprecated and ignored: its value {built_in!r} is always used.",
            FutureWarning,
            stacklevel=4,
        )
    return fields


def check_max_seq_len(max_seq_len: int, max_stride: int, owner: str) -> None:
    """Raises a ValueError unless the training length `max_seq_len` (steps) is a multiple of `max_stride`."""
    if max_seq_len % max_stride:
        raise ValueError(
            f"{owner}.max_seq_len ({max_seq_len}) must be a multiple of the largest pyramid stride, max_stride ({max_stride})."
        )


INITIALIZERS = ("normal", "unav")
POSITION_INTERPOLATIONS = ("resample", "linear")


def _float_field_names(config_class) -> list[str]:
    """Fields typed `float | int`: float fields that accept an int, as JSON may write 25 for 25.0."""
    return [name for name, annotation in config_class.__annotations__.items() if annotation == float | int]


@strict
class LocoConfig(PreTrainedConfig):
    r"""
    Configuration of a LoCo model. The defaults are the UnAV-100 I3D + VGGish setting (`unav100-i3d-vggish`);
    `LocoConfig.from_preset(name)` gives the named presets of `PRESETS`. Time inside the model is measured in
    feature steps; one step lasts `feature_stride / fps` seconds.

    Features:
        visual_dim (`int`, default 2048): channels of a visual feature (I3D rgb + flow).
        audio_dim (`int`, default 128): channels of an audio feature (VGGish).
        fps (`float`, default 25.0): frame rate the features were extracted at, in frames per second.
        feature_stride (`int`, default 8): hop between two features, in frames.
        feature_window (`int`, default 24): frames covered by one feature.
        max_seq_len (`int`, default 224): training length in steps; must be divisible by the largest stride.

    Encoders:
        hidden_size (`int`, default 512): width d of every stream.
        num_attention_heads (`int`, default 4): heads of every attention block of width d.
        intermediate_size (`int`, default 2048): hidden width of the transformer MLPs.
        num_embedding_layers (`int`, default 2): masked conv + LayerNorm + ReLU layers of each embedding.
        num_unimodal_layers (`int`, default 2): self-attention blocks per modality before the pyramid.
        drop_path_rate (`float`, default 0.1): stochastic-depth probability of every residual branch.
        layer_scale_init_value (`float`, default 1e-4): initial value of the layer-scale vectors.
        initializer (`str`, default "normal"): initial weights of convolutions and linear layers. "normal": N(0,
            `initializer_range`), biases 0. "unav": UnAV's recipe, PyTorch's default (uniform, bound
            1 / sqrt(fan_in)) with biases 0 (`unav-baseline`). LayerNorms, layer scales, the class prior and the
            regression scales start as in UnAV either way.
        initializer_range (`float`, default 0.02): standard deviation of the "normal" initialisation.
        use_self_attention_query_norm (`bool`, default False): in the self-attention blocks (unimodal encoders and
            dependency block), normalise the query input with a LayerNorm of its own, as UnAV does (its `ln12`
            beside `ln11`); off, one LayerNorm feeds queries, keys and values. Cross-modal blocks always have one
            LayerNorm per stream. Off by default so that checkpoints saved without it keep their weights and outputs.
        position_interpolation (`str`, default "resample"): the position table of a video longer than
            `max_seq_len`. "resample": sin/cos evaluated at positions compressed into [0, max_seq_len - 1].
            "linear": UnAV's rule, the `max_seq_len`-row table linearly interpolated (align_corners=False).
        reference_padding (`bool`, default False): handle padded steps exactly as the UnAV code does, so that a
            converted UnAV checkpoint computes what it was trained to compute. Convolutions read padded steps as
            they are rather than as zeros (a LayerNorm maps a padded zero to its bias, which reaches the last
            valid step), the embedding output is not re-masked, max-pooled residuals see padded zeros, the
            dependency block's temporal branch tiles the batch mask in UnAV's order, and the position table is
            stretched by the padded length rather than each video's own. Outputs then depend on how much a video is padded: feed such a model as the UnAV code
            does (the feature extractor's default padding). Off, a video's outputs do not depend on its batch-mates
            (docs/architecture.md, departures). Set by `convert_unav_checkpoint`.

    LCF, Local Correspondence Feature modulation:
        use_lcf (`bool`, default True): modulate each unimodal block's output by local cross-modal coherence.
        lcf_radius (`int`, default 2): half width r of the local window, in steps.
        lcf_projection_dim (`int`, default 128): dimension of the coherence projections.
        lcf_temperature (`float`, default 0.1): temperature tau of the softmax that aligns each step with its
            window; 1 / tau is also the initial slope k of the learned pair logit k S + b.
        lcf_loss_weight (`float`, default 0.1): weight of the LCF correspondence loss (a binary cross-entropy on
            the local audio-visual pairs: positive when both steps lie in labelled events of a shared class).
        lcf_layer_scale_init_value (`float`, default 1.0): initial value of the modulation's per-channel layer scale.
        lcf_stop_gradient (`bool`, default True): the coherence projections read the streams through a
            stop-gradient, so the correspondence loss and the gate train LCF's own projections and pair logit but
            not the unimodal encoders. False lets the loss shape the encoders too, which slowed LoCo's first few
            hundred training steps on every data setting measured (docs/ablations.md). The forward pass is the
            same either way.

    LAC, Local Adaptive Cross-modal interaction:
        use_lac (`bool`, default True): cross-modal attention with LAC's adaptive Gaussian window and null key.
        lac_min_window (`float`, default 0.5): smallest window width w_min, in steps of the level.
        lac_max_window (`float`, default 16.0): largest window width w_max, in steps of the level.
        lac_max_shift (`float`, default 4.0): largest window shift delta_max, in steps of the level.
        lac_initial_windows (`list[float]`, default [1, 2, 4, 8]): initial width of each head.
        lac_layer_scale_init_value (`float`, default 1.0): initial value of the per-channel layer scale of LAC's
            attention branch (its MLP branch starts at `layer_scale_init_value`). 1 suits the `small` recipe; with a
            wider network and a larger learning rate LAC started at 1 learns to shut itself out through the null
            key, and 1e-4 did better (docs/ablations.md, "LAC's start").
        cross_attention_query_source (`str`, default "updated_stream"): where the queries of cross-modal attention
            come from. "updated_stream": from the stream being updated, keys and values from the other stream
            (LoCo). "other_stream": from the other stream, keys, values and residual from the stream being updated
            (the UnAV code).

    Pyramid and heads:
        num_pyramid_levels (`int`, default 6): levels of the cross-modal pyramid, strides 1, 2, 4, ...
        regression_ranges (`list[list[float]]`): per level, the [low, high] range of max(left, right), in steps.
        use_dependency_block (`bool`, default True): UnAV's temporal and class co-occurrence block.
        dependency_hidden_size (`int`, default 128): per-class width of the dependency block.
        head_hidden_size (`int`, default 512): width of the classification and regression trunks.
        num_head_layers (`int`, default 2): conv + LayerNorm + ReLU layers of each trunk.
        classification_prior_prob (`float`, default 0.01): initial foreground probability of the classifier.

    Loss:
        focal_alpha (`float`, default 0.25), focal_gamma (`float`, default 2.0): sigmoid focal loss.
        regression_loss_weight (`float`, default 1.0): weight of the DIoU loss.
        loss_normalizer_init (`float`, default 250.0): initial EMA of the positive-point count.
        loss_normalizer_momentum (`float`, default 0.9): EMA momentum of the positive-point count.

    `id2label` / `label2id` name the classes; `num_labels` is derived from them. A config built from `num_labels`
    alone (the `small` preset) names its classes "LABEL_0", ...; training takes the names from the data set.

    Variants: `use_lcf`, `use_lac` and `use_dependency_block` switch LoCo's two modules and UnAV's dependency block
    on or off, and `cross_attention_query_source` picks the query convention of cross-modal attention. All off with
    "other_stream" is the UnAV baseline (`unav-baseline`); the defaults are LoCo. Each switch is read once, where
    the model is built. LCF's modulation (`lcf_layer_scale_init_value`) and LAC's attention branch
    (`lac_layer_scale_init_value`) start at layer scale 1 rather than `layer_scale_init_value`: their gates (LCF's
    coherence gate, LAC's window and null key) already decide what a step takes in, and from 1e-4 a short schedule
    is spent growing the scale.

    Numbers: a float field also accepts an int (a config.json may hold 25 for 25.0) and stores it as a float; a
    bool is rejected (by the strict type check). NaN and infinite values are rejected in every float field and list.

    Deprecated fields, still accepted with a FutureWarning: `cross_attention_queries` ("self" / "other", now
    `cross_attention_query_source` "updated_stream" / "other_stream"), and `lac_null_key` (always True), which
    raises for any other value.
    """

    model_type = "loco"

    # features
    visual_dim: int = 2048
    audio_dim: int = 128
    fps: float | int = 25.0
    feature_stride: int = 8
    feature_window: int = 24
    max_seq_len: int = 224

    # encoders
    hidden_size: int = 512
    num_attention_heads: int = 4
    intermediate_size: int = 2048
    num_embedding_layers: int = 2
    num_unimodal_layers: int = 2
    drop_path_rate: float | int = 0.1
    layer_scale_init_value: float | int = 1e-4
    initializer: str = "normal"
    initializer_range: float | int = 0.02
    use_self_attention_query_norm: bool = False
    position_interpolation: str = "resample"
    reference_padding: bool = False

    # LCF
    use_lcf: bool = True
    lcf_radius: int = 2
    lcf_projection_dim: int = 128
    lcf_temperature: float | int = 0.1
    lcf_loss_weight: float | int = 0.1
    lcf_layer_scale_init_value: float | int = 1.0
    lcf_stop_gradient: bool = True

    # LAC
    use_lac: bool = True
    lac_min_window: float | int = 0.5
    lac_max_window: float | int = 16.0
    lac_max_shift: float | int = 4.0
    lac_initial_windows: list[float | int] | None = None
    lac_layer_scale_init_value: float | int = 1.0
    cross_attention_query_source: str = "updated_stream"

    # pyramid and heads
    num_pyramid_levels: int = 6
    regression_ranges: list[list[float | int]] | None = None
    use_dependency_block: bool = True
    dependency_hidden_size: int = 128
    head_hidden_size: int = 512
    num_head_layers: int = 2
    classification_prior_prob: float | int = 0.01

    # loss
    focal_alpha: float | int = 0.25
    focal_gamma: float | int = 2.0
    regression_loss_weight: float | int = 1.0
    loss_normalizer_init: float | int = 250.0
    loss_normalizer_momentum: float | int = 0.9

    def __post_init__(self, **kwargs):
        old_fields = {name: kwargs.pop(name) for name in DEPRECATED_FIELDS if name in kwargs}
        self.cross_attention_query_source = _upgrade_old_fields(old_fields).get(
            "cross_attention_query_source", self.cross_attention_query_source
        )
        if self.lac_initial_windows is None:
            self.lac_initial_windows = [float(2**h) for h in range(self.num_attention_heads)]
        if self.regression_ranges is None and self.num_pyramid_levels > 0:
            # UnAV's ranges for the first levels; the last level takes every longer event.
            self.regression_ranges = [list(r) for r in _UNAV_REGRESSION_RANGES[: self.num_pyramid_levels]]
            self.regression_ranges[-1][1] = 10000.0
        if self.id2label is None and kwargs.get("num_labels") is None:
            self.id2label, self.label2id = _label_maps(UNAV100_CLASS_NAMES).values()
        elif self.id2label is not None and self.label2id is None:
            self.label2id = {name: int(i) for i, name in self.id2label.items()}
        super().__post_init__(**kwargs)
        self.store_numbers_as_floats()
        # Validated here rather than in a `validate_*` method: `@strict` would wrap the ValueError in its own
        # exception type, and users (and transformers' loaders) expect a ValueError.
        self.check_values()

    @property
    def pyramid_strides(self) -> list[int]:
        """Stride of each pyramid level, in steps: [1, 2, 4, ...]."""
        return [2**level for level in range(self.num_pyramid_levels)]

    @property
    def max_stride(self) -> int:
        """Stride of the coarsest pyramid level, in steps: padded lengths are multiples of it."""
        return 2 ** (self.num_pyramid_levels - 1)

    @property
    def cross_attention_queries(self) -> str:
        """Deprecated: `cross_attention_query_source` in its old vocabulary ("self" / "other")."""
        warnings.warn(
            "LocoConfig.cross_attention_queries is deprecated: read cross_attention_query_source.",
            FutureWarning,
            stacklevel=2,
        )
        return {new: old for old, new in _OLD_QUERY_SOURCE_VALUES.items()}[self.cross_attention_query_source]

    @property
    def seconds_per_step(self) -> float:
        """Duration of one feature step, in seconds (0.32 s for I3D/VGGish)."""
        return self.feature_stride / self.fps

    @classmethod
    def from_preset(cls, name: str = DEFAULT_PRESET, **overrides) -> "LocoConfig":
        """Builds the configuration of a named preset (see `PRESETS`); keyword arguments override fields."""
        if name not in PRESETS:
            raise ValueError(f"Unknown LoCo preset {name!r}; available presets: {sorted(PRESETS)}.")
        overrides = _upgrade_old_fields(dict(overrides))
        fields = {**PRESETS[name], **overrides}
        if "id2label" in overrides:
            fields.pop("num_labels", None)  # derived from the new names
            if "label2id" not in overrides:
                fields.pop("label2id", None)  # derived again from the new names
        return cls(**fields)

    def store_numbers_as_floats(self):
        """Stores an int given for a float field (or inside a list of floats) as a float, so types survive a save."""
        for name in _float_field_names(type(self)):
            setattr(self, name, float(getattr(self, name)))
        self.lac_initial_windows = [float(width) for width in self.lac_initial_windows]
        if self.regression_ranges is not None:
            self.regression_ranges = [
                [float(bound) for bound in low_high] for low_high in self.regression_ranges
            ]

    def check_values(self):
        """Raises a ValueError naming the field for each impossible value."""
        numbers = {name: [getattr(self, name)] for name in _float_field_names(type(self))}
        numbers["lac_initial_windows"] = self.lac_initial_windows
        numbers["regression_ranges"] = [
            bound for low_high in self.regression_ranges or [] for bound in low_high
        ]
        for name, values in numbers.items():
            if not all(math.isfinite(value) for value in values):
                raise ValueError(
                    f"LocoConfig.{name} must be finite (no NaN or infinity), got {getattr(self, name)}."
                )
        positive_ints = (
            "visual_dim", "audio_dim", "feature_stride", "feature_window", "max_seq_len", "hidden_size",
            "num_attention_heads", "intermediate_size", "num_embedding_layers", "lcf_projection_dim",
            "num_pyramid_levels", "dependency_hidden_size", "head_hidden_size",
        )  # fmt: skip
        for name in positive_ints:
            if getattr(self, name) <= 0:
                raise ValueError(f"LocoConfig.{name} must be a positive integer, got {getattr(self, name)}.")
        non_negative = ("num_unimodal_layers", "num_head_layers", "lcf_radius", "lcf_loss_weight",
                        "lac_max_shift", "regression_loss_weight", "layer_scale_init_value", "focal_gamma",
                        "lcf_layer_scale_init_value", "lac_layer_scale_init_value")  # fmt: skip
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ValueError(f"LocoConfig.{name} must be >= 0, got {getattr(self, name)}.")
        for name in ("fps", "lcf_temperature", "lac_min_window", "loss_normalizer_init", "initializer_range"):
            if getattr(self, name) <= 0:
                raise ValueError(f"LocoConfig.{name} must be > 0, got {getattr(self, name)}.")
        for name in ("drop_path_rate", "focal_alpha", "loss_normalizer_momentum"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"LocoConfig.{name} must be in [0, 1), got {getattr(self, name)}.")
        if not 0 < self.classification_prior_prob < 1:
            raise ValueError(
                f"LocoConfig.classification_prior_prob must be in (0, 1), got {self.classification_prior_prob}."
            )
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"LocoConfig.hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads})."
            )
        check_max_seq_len(self.max_seq_len, self.max_stride, "LocoConfig")
        if self.lac_max_window < self.lac_min_window:
            raise ValueError(
                f"LocoConfig.lac_max_window ({self.lac_max_window}) must be >= lac_min_window ({self.lac_min_window})."
            )
        if len(self.lac_initial_windows) != self.num_attention_heads:
            raise ValueError(
                f"LocoConfig.lac_initial_windows needs one width per head ({self.num_attention_heads}), "
                f"got {self.lac_initial_windows}."
            )
        for width in self.lac_initial_windows:
            if not self.lac_min_window < width < self.lac_max_window:
                raise ValueError(
                    f"LocoConfig.lac_initial_windows values must lie strictly between lac_min_window "
                    f"({self.lac_min_window}) and lac_max_window ({self.lac_max_window}), got {width}."
                )
        if self.cross_attention_query_source not in CROSS_ATTENTION_QUERY_SOURCES:
            raise ValueError(
                f"LocoConfig.cross_attention_query_source must be one of {CROSS_ATTENTION_QUERY_SOURCES}, "
                f"got {self.cross_attention_query_source!r}."
            )
        for name, valid in (
            ("initializer", INITIALIZERS),
            ("position_interpolation", POSITION_INTERPOLATIONS),
        ):
            if getattr(self, name) not in valid:
                raise ValueError(f"LocoConfig.{name} must be one of {valid}, got {getattr(self, name)!r}.")
        if self.regression_ranges is None or len(self.regression_ranges) != self.num_pyramid_levels:
            raise ValueError(
                f"LocoConfig.regression_ranges needs one [low, high] pair per pyramid level "
                f"({self.num_pyramid_levels}), got {self.regression_ranges}."
            )
        for low_high in self.regression_ranges:
            if len(low_high) != 2 or not 0 <= low_high[0] < low_high[1]:
                raise ValueError(
                    f"LocoConfig.regression_ranges entries must be [low, high] with 0 <= low < high, got {low_high}."
                )
        if not self.id2label:
            raise ValueError("LocoConfig.id2label must name at least one class.")
