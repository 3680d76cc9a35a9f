# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Configuration of LoCo, Locality-aware Cross-modal Correspondence learning (Xing et al., arXiv 2409.07967).

LoCo localises dense audio-visual events from pre-extracted per-step visual and audio features. It extends the
UnAV baseline (Geng et al., CVPR 2023) with two modules:

* LCF, Local Correspondence Feature modulation: local cross-modal coherence modulates the unimodal encoders;
* LAC, Local Adaptive Cross-modal interaction: cross-modal attention with a data-driven local window.

With both switched off and `cross_attention_queries="other"` the network is the UnAV baseline.
"""

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

# Number of event classes of the synthetic UnAV-style data (loco_hf.data.synthetic) used by the `small` preset.
SYNTHETIC_NUM_CLASSES = 20
SYNTHETIC_CLASS_NAMES = [f"synthetic event {i:02d}" for i in range(SYNTHETIC_NUM_CLASSES)]

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
        "cross_attention_queries": "other",
    },
    # CPU-sized network on the synthetic UnAV-style data: same grid and pyramid as UnAV-100, narrower layers and
    # no dependency block. The block costs half of a CPU step at this width, and at the main job's budget of a few
    # hundred steps it lowered test mAP (10.3 without against 6.3 with, docs/ablations.md): the budget is better
    # spent on steps. Every variant of the ablation grid, the baseline included, uses the same preset.
    "small": {
        **_label_maps(SYNTHETIC_CLASS_NAMES),
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

CROSS_ATTENTION_QUERY_CONVENTIONS = ("self", "other")


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
        initializer_range (`float`, default 0.02): standard deviation of the weight initialisation.

    LCF, Local Correspondence Feature modulation:
        use_lcf (`bool`, default True): modulate each unimodal block's output by local cross-modal coherence.
        lcf_radius (`int`, default 2): half width r of the local window, in steps.
        lcf_projection_dim (`int`, default 128): dimension of the coherence projections.
        lcf_temperature (`float`, default 0.1): temperature tau of the softmax that aligns each step with its
            window; 1 / tau is also the initial slope k of the learned pair logit k S + b.
        lcf_loss_weight (`float`, default 0.1): weight of the LCF correspondence loss (a binary cross-entropy on
            the local audio-visual pairs: positive when both steps lie in labelled events of a shared class).
        lcf_layer_scale_init_value (`float`, default 1.0): initial value of LCF's layer-scale vectors. Not the
            blocks' 1e-4: the gate already keeps the modulation off where the streams do not correspond, and from
            1e-4 the modulation spends a short schedule growing its scale (docs/ablations.md, row 30).

    LAC, Local Adaptive Cross-modal interaction:
        use_lac (`bool`, default True): add the adaptive Gaussian window bias to cross-modal attention.
        lac_min_window (`float`, default 0.5): smallest window width w_min, in steps of the level.
        lac_max_window (`float`, default 16.0): largest window width w_max, in steps of the level.
        lac_max_shift (`float`, default 4.0): largest window shift delta_max, in steps of the level.
        lac_initial_windows (`list[float]`, default [1, 2, 4, 8]): initial width of each head.
        lac_null_key (`bool`, default True): give every LAC attention a learned key with a zero value, so a query
            whose window holds no counterpart attends to nothing instead of spreading its weight over whatever
            is there (a one-modality event next to another class's event then receives nothing).
        lac_layer_scale_init_value (`float`, default 1.0): initial value of the layer scale of the LAC attention
            branch (the MLP branch keeps `layer_scale_init_value`). Not the blocks' 1e-4: the window and the null
            key already decide what a query takes in, and from 1e-4 the branch spends a short schedule growing its
            scale (docs/ablations.md, rows 31-32; dense attention at 1 gains too, but the baseline keeps UnAV's 1e-4).
        cross_attention_queries (`str`, default "self"): where the queries of cross-modal attention come from.
            "self": from the stream being updated (keys and values from the other stream; LoCo's convention).
            "other": from the other stream (keys, values and residual from the stream being updated; UnAV's).

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

    `id2label` / `label2id` name the classes; `num_labels` is derived from them.
    """

    model_type = "loco"

    # features
    visual_dim: int = 2048
    audio_dim: int = 128
    fps: float = 25.0
    feature_stride: int = 8
    feature_window: int = 24
    max_seq_len: int = 224

    # encoders
    hidden_size: int = 512
    num_attention_heads: int = 4
    intermediate_size: int = 2048
    num_embedding_layers: int = 2
    num_unimodal_layers: int = 2
    drop_path_rate: float = 0.1
    layer_scale_init_value: float = 1e-4
    initializer_range: float = 0.02

    # LCF
    use_lcf: bool = True
    lcf_radius: int = 2
    lcf_projection_dim: int = 128
    lcf_temperature: float = 0.1
    lcf_loss_weight: float = 0.1
    lcf_layer_scale_init_value: float = 1.0

    # LAC
    use_lac: bool = True
    lac_min_window: float = 0.5
    lac_max_window: float = 16.0
    lac_max_shift: float = 4.0
    lac_initial_windows: list[float | int] | None = None
    lac_null_key: bool = True
    lac_layer_scale_init_value: float = 1.0
    cross_attention_queries: str = "self"

    # pyramid and heads
    num_pyramid_levels: int = 6
    regression_ranges: list[list[float | int]] | None = None
    use_dependency_block: bool = True
    dependency_hidden_size: int = 128
    head_hidden_size: int = 512
    num_head_layers: int = 2
    classification_prior_prob: float = 0.01

    # loss
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    regression_loss_weight: float = 1.0
    loss_normalizer_init: float = 250.0
    loss_normalizer_momentum: float = 0.9

    def __post_init__(self, **kwargs):
        if self.lac_initial_windows is None:
            self.lac_initial_windows = [float(2**h) for h in range(self.num_attention_heads)]
        if self.regression_ranges is None and self.num_pyramid_levels > 0:
            # UnAV's ranges for the first levels; the last level takes every longer event.
            self.regression_ranges = [list(r) for r in _UNAV_REGRESSION_RANGES[: self.num_pyramid_levels]]
            self.regression_ranges[-1][1] = 10000.0
        if self.id2label is None:
            self.id2label, self.label2id = _label_maps(UNAV100_CLASS_NAMES).values()
        elif self.label2id is None:
            self.label2id = {name: int(i) for i, name in self.id2label.items()}
        super().__post_init__(**kwargs)
        # Validated here rather than in a `validate_*` method: `@strict` would wrap the ValueError in its own
        # exception type, and users (and transformers' loaders) expect a ValueError.
        self.check_values()

    @property
    def pyramid_strides(self) -> list[int]:
        """Stride of each pyramid level, in steps: [1, 2, 4, ...]."""
        return [2**level for level in range(self.num_pyramid_levels)]

    @property
    def seconds_per_step(self) -> float:
        """Duration of one feature step, in seconds (0.32 s for I3D/VGGish)."""
        return self.feature_stride / self.fps

    @classmethod
    def from_preset(cls, name: str = DEFAULT_PRESET, **overrides) -> "LocoConfig":
        """Builds the configuration of a named preset (see `PRESETS`); keyword arguments override fields."""
        if name not in PRESETS:
            raise ValueError(f"Unknown LoCo preset {name!r}; available presets: {sorted(PRESETS)}.")
        fields = {**PRESETS[name], **overrides}
        if "id2label" in overrides and "label2id" not in overrides:
            fields.pop("label2id")  # derived again from the new names
        return cls(**fields)

    def check_values(self):
        """Raises a ValueError naming the field for each impossible value."""
        positive_ints = (
            "visual_dim", "audio_dim", "feature_stride", "feature_window", "max_seq_len", "hidden_size",
            "num_attention_heads", "intermediate_size", "num_embedding_layers", "lcf_projection_dim",
            "num_pyramid_levels", "dependency_hidden_size", "head_hidden_size",
        )  # fmt: skip
        for name in positive_ints:
            if getattr(self, name) <= 0:
                raise ValueError(f"LocoConfig.{name} must be a positive integer, got {getattr(self, name)}.")
        non_negative = ("num_unimodal_layers", "num_head_layers", "lcf_radius", "lcf_loss_weight",
                        "lac_max_shift", "regression_loss_weight", "layer_scale_init_value",
                        "lcf_layer_scale_init_value", "lac_layer_scale_init_value", "focal_gamma")  # fmt: skip
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
        largest_stride = 2 ** (self.num_pyramid_levels - 1)
        if self.max_seq_len % largest_stride:
            raise ValueError(
                f"LocoConfig.max_seq_len ({self.max_seq_len}) must be divisible by the largest pyramid stride "
                f"({largest_stride} for num_pyramid_levels={self.num_pyramid_levels})."
            )
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
        if self.cross_attention_queries not in CROSS_ATTENTION_QUERY_CONVENTIONS:
            raise ValueError(
                f"LocoConfig.cross_attention_queries must be one of {CROSS_ATTENTION_QUERY_CONVENTIONS}, "
                f"got {self.cross_attention_queries!r}."
            )
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
