# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Conversion of the UnAV reference checkpoints (Geng et al., CVPR 2023; code at ttgeng233/UnAV) to loco-hf.

A released UnAV checkpoint (`*.pth.tar`) is a dict holding the raw weights under `state_dict` and the EMA weights
under `state_dict_ema` (the ones UnAV evaluates), each keyed by the reference module names, with a `module.` prefix
when it was saved from `nn.DataParallel`. `convert_unav_checkpoint` reads it without unpickling code, renames and
reshapes every tensor into the `unav-baseline` network with `reference_padding=True` (the padded-step handling the
weights were trained with), and can write a complete model folder: weights, config, feature extractor, pipeline
code and a model card. `unav_key_table` is the key table (docs/conversion.md lists it).

Usage::

    python scripts/convert_unav_checkpoint.py --checkpoint unav.pth.tar --output_dir unav-baseline-converted
"""

import hashlib
import os
import pickle
from pathlib import Path

import torch
from huggingface_hub import ModelCard

from .configuration_loco import PRESETS, LocoConfig
from .feature_extraction_loco import LocoFeatureExtractor
from .modelcard import TASK_TYPE, card_metadata
from .modeling_loco import LocoForEventLocalization
from .pipeline_loco import save_pipeline

__all__ = ["convert_unav_checkpoint", "convert_unav_state_dict", "load_unav_state_dict", "unav_key_table"]

UNAV_REPOSITORY = "https://github.com/ttgeng233/UnAV"
UNAV_CITATION = """\
@inproceedings{geng2023dense,
  title     = {Dense-Localizing Audio-Visual Events in Untrimmed Videos: A Large-Scale Benchmark and Baseline},
  author    = {Geng, Tiantian and Wang, Teng and Duan, Jinming and Cong, Runmin and Zheng, Feng},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition},
  pages     = {22942--22951},
  year      = {2023}
}"""

# Input dims of the embedding convs -> the preset whose time grid those features use (UnAV code, same network).
FEATURE_PRESETS = {(2048, 128): "unav100-i3d-vggish", (1536, 1536): "unav100-onepeace"}
TIME_GRID_FIELDS = ("visual_dim", "audio_dim", "fps", "feature_stride", "feature_window", "max_seq_len")


def _block_keys(source: str, target: str, hidden_size: int, intermediate_size: int) -> dict:
    """Key table of one UnAV `TransformerBlock` (1x1 convs -> linears, (1, C, 1) LayerNorms -> (C,))."""
    norm, linear = (1, hidden_size, 1), (hidden_size, hidden_size, 1)
    table = {
        f"{source}.ln11.weight": (f"{target}.norm_hidden.weight", norm),
        f"{source}.ln11.bias": (f"{target}.norm_hidden.bias", norm),
        f"{source}.ln12.weight": (f"{target}.norm_context.weight", norm),
        f"{source}.ln12.bias": (f"{target}.norm_context.bias", norm),
        f"{source}.ln2.weight": (f"{target}.norm_mlp.weight", norm),
        f"{source}.ln2.bias": (f"{target}.norm_mlp.bias", norm),
    }
    for name in ("query", "key", "value"):
        table |= {
            f"{source}.attn.{name}_conv.conv.weight": (
                f"{target}.{name}.depthwise.weight",
                (hidden_size, 1, 3),
            ),
            f"{source}.attn.{name}_norm.weight": (f"{target}.{name}.norm.weight", norm),
            f"{source}.attn.{name}_norm.bias": (f"{target}.{name}.norm.bias", norm),
        }
    for name in ("key", "query", "value"):
        table |= {
            f"{source}.attn.{name}.weight": (f"{target}.{name}.projection.weight", linear),
            f"{source}.attn.{name}.bias": (f"{target}.{name}.projection.bias", (hidden_size,)),
        }
    return table | {
        f"{source}.attn.proj.weight": (f"{target}.output.weight", linear),
        f"{source}.attn.proj.bias": (f"{target}.output.bias", (hidden_size,)),
        f"{source}.mlp.0.weight": (f"{target}.mlp_in.weight", (intermediate_size, hidden_size, 1)),
        f"{source}.mlp.0.bias": (f"{target}.mlp_in.bias", (intermediate_size,)),
        f"{source}.mlp.3.weight": (f"{target}.mlp_out.weight", (hidden_size, intermediate_size, 1)),
        f"{source}.mlp.3.bias": (f"{target}.mlp_out.bias", (hidden_size,)),
        f"{source}.drop_path_attn.scale": (f"{target}.attention_scale", norm),
        f"{source}.drop_path_mlp.scale": (f"{target}.mlp_scale", norm),
    }


def _head_keys(source: str, target: str, config: LocoConfig, output_size: int) -> dict:
    """Key table of a UnAV classification or regression head trunk (without its output bias)."""
    table = {}
    input_size = 2 * config.hidden_size
    for layer in range(config.num_head_layers):
        shape = (config.head_hidden_size, input_size if layer == 0 else config.head_hidden_size, 3)
        table[f"{source}.head.{layer}.conv.weight"] = (f"{target}.convs.{layer}.weight", shape)
    for layer in range(config.num_head_layers):
        for part in ("weight", "bias"):
            table[f"{source}.norm.{layer}.{part}"] = (
                f"{target}.norms.{layer}.{part}",
                (1, config.head_hidden_size, 1),
            )
    output = "cls_head" if source == "cls_head" else "offset_head"
    table[f"{source}.{output}.conv.weight"] = (
        f"{target}.output.weight",
        (output_size, config.head_hidden_size, 3),
    )
    return table


def unav_key_table(config: LocoConfig) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The UnAV reference's tensors for a configuration: reference name -> (loco-hf name, reference shape).

    Follows the reference's `state_dict()` order. The regression head's per-level scalars
    `reg_head.scale.{l}.scale` map to `regression_head.level_scales.{l}`: element l of one loco-hf tensor.
    For `unav-baseline` the table has 558 tensors (139,544,114 parameters).

    Args:
        config (`LocoConfig`): a UnAV-shaped configuration (no LCF, no LAC, UnAV's query source and self-attention
            query norm).
    Returns:
        `dict` from reference name to (loco-hf parameter name, shape of the reference tensor).
    """
    # The fields that make the network UnAV's: the weights would land, but compute something else, without them.
    unav_fields = {
        "use_lcf": False,
        "use_lac": False,
        "cross_attention_query_source": "other_stream",
        "use_self_attention_query_norm": True,
    }
    different = {
        name: getattr(config, name) for name, value in unav_fields.items() if getattr(config, name) != value
    }
    if different:
        raise ValueError(
            f"UnAV checkpoints need a configuration with {unav_fields} (the unav-baseline preset); got {different}."
        )
    hidden_size, intermediate_size = config.hidden_size, config.intermediate_size
    table = {}
    for modality, name in (("V", "visual"), ("A", "audio")):
        input_size = config.visual_dim if modality == "V" else config.audio_dim
        for layer in range(config.num_embedding_layers):
            shape = (hidden_size, input_size if layer == 0 else hidden_size, 3)
            table[f"backbone.embd_{modality}.{layer}.conv.weight"] = (
                f"loco.{name}_embedding.convs.{layer}.weight",
                shape,
            )
    for modality, name in (("V", "visual"), ("A", "audio")):
        for layer in range(config.num_embedding_layers):
            for part in ("weight", "bias"):
                table[f"backbone.embd_norm_{modality}.{layer}.{part}"] = (
                    f"loco.{name}_embedding.norms.{layer}.{part}",
                    (1, hidden_size, 1),
                )
    for modality, name in (("V", "visual"), ("A", "audio")):
        for layer in range(config.num_unimodal_layers):
            table |= _block_keys(
                f"backbone.self_att_{modality}.{layer}",
                f"loco.{name}_encoder.{layer}",
                hidden_size,
                intermediate_size,
            )
    # Level 0 (stride 1) is UnAV's `ori_cross_att_*`; levels 1 ... L-1 its strided `cross_att_*`.
    for modality, name in (("Va", "visual"), ("Av", "audio")):
        table |= _block_keys(
            f"backbone.ori_cross_att_{modality}", f"loco.{name}_pyramid.0", hidden_size, intermediate_size
        )
    for modality, name in (("Va", "visual"), ("Av", "audio")):
        for level in range(1, config.num_pyramid_levels):
            table |= _block_keys(
                f"backbone.cross_att_{modality}.{level - 1}",
                f"loco.{name}_pyramid.{level}",
                hidden_size,
                intermediate_size,
            )
    if config.use_dependency_block:
        expanded = config.num_labels * config.dependency_hidden_size
        class_size = config.dependency_hidden_size
        table["dependency_block.feature_expand.conv.weight"] = (
            "loco.dependency.expand.weight",
            (expanded, 2 * hidden_size, 3),
        )
        table |= _block_keys(
            "dependency_block.cooccur_branch", "loco.dependency.co_occurrence", class_size, class_size
        )
        table |= _block_keys(
            "dependency_block.temporal_branch", "loco.dependency.temporal", class_size, class_size
        )
        table["dependency_block.feature_squeeze.conv.weight"] = (
            "loco.dependency.squeeze.weight",
            (2 * hidden_size, expanded, 3),
        )
    table |= _head_keys("cls_head", "classification_head", config, config.num_labels)
    table["cls_head.cls_head.conv.bias"] = ("classification_head.prior_bias", (config.num_labels,))
    table |= {
        key: value
        for key, value in _head_keys("reg_head", "regression_head", config, 2 * config.num_labels).items()
        if ".offset_head." not in key
    }
    for level in range(config.num_pyramid_levels):
        table[f"reg_head.scale.{level}.scale"] = (f"regression_head.level_scales.{level}", ())
    table["reg_head.offset_head.conv.weight"] = (
        "regression_head.output.weight",
        (2 * config.num_labels, config.head_hidden_size, 3),
    )
    table["reg_head.offset_head.conv.bias"] = ("regression_head.output.bias", (2 * config.num_labels,))
    return table


def load_unav_state_dict(checkpoint, use_ema: bool = True) -> dict[str, torch.Tensor]:
    """The reference state dict of a UnAV checkpoint, without the `module.` prefix of DataParallel checkpoints.

    Args:
        checkpoint (`str`, `os.PathLike` or `dict`): a `*.pth.tar` file, read with `torch.load(weights_only=True)`
            so that no pickled code ever runs; or an already-loaded checkpoint dict (with `state_dict` /
            `state_dict_ema`) or state dict.
        use_ema (`bool`, default True): take `state_dict_ema` (the weights UnAV evaluates) rather than `state_dict`.
    Returns:
        `dict` from reference name to tensor.
    Raises:
        ValueError when the file holds anything but plain tensors and containers, or lacks the chosen weights.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        try:
            checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as error:  # what torch raises for anything but tensors and containers
            raise ValueError(
                f"{os.fspath(checkpoint)} could not be read as weights only (torch.load(weights_only=True)); it is "
                f"not converted, since reading it otherwise could run code stored in it: {error}"
            ) from error
    if not isinstance(checkpoint, dict):
        raise ValueError(f"A UnAV checkpoint is a dict, got {type(checkpoint).__name__}.")
    key = "state_dict_ema" if use_ema else "state_dict"
    if "state_dict" in checkpoint or "state_dict_ema" in checkpoint:
        if key not in checkpoint:
            raise ValueError(
                f"The checkpoint has no {key!r} (it holds {sorted(checkpoint)}); "
                f"use {'use_ema=False' if use_ema else 'use_ema=True'}."
            )
        checkpoint = checkpoint[key]
    return {name.removeprefix("module."): tensor for name, tensor in checkpoint.items()}


def convert_unav_state_dict(
    state_dict: dict[str, torch.Tensor], config: LocoConfig
) -> dict[str, torch.Tensor]:
    """Renames and reshapes a UnAV reference state dict into the state dict of `LocoForEventLocalization(config)`.

    Args:
        state_dict (`dict`): reference name (no `module.` prefix) -> tensor, as `load_unav_state_dict` returns.
        config (`LocoConfig`): the target configuration (see `unav_key_table`).
    Returns:
        The loco-hf state dict, float32, with the loss normaliser at `config.loss_normalizer_init` (UnAV does not
        save its running value).
    Raises:
        ValueError naming every reference tensor the table does not know, every one it expects and misses, and
        every tensor of the wrong shape.
    """
    table = unav_key_table(config)
    with torch.device("meta"):
        target_shapes = {
            name: tensor.shape for name, tensor in LocoForEventLocalization(config).state_dict().items()
        }
    unmapped = sorted(set(state_dict) - set(table))
    missing = [name for name in table if name not in state_dict]
    wrong_shapes = [
        f"{name} {tuple(state_dict[name].shape)} (expected {shape})"
        for name, (_, shape) in table.items()
        if name in state_dict and tuple(state_dict[name].shape) != shape
    ]
    problems = [
        f"{label}: {', '.join(names)}"
        for label, names in (("unmapped", unmapped), ("missing", missing), ("wrong shape", wrong_shapes))
        if names
    ]
    if problems:
        raise ValueError(
            "The UnAV state dict does not match the unav-baseline network. " + "; ".join(problems)
        )
    converted, level_scales = {}, {}
    for name, (target, _) in table.items():
        tensor = state_dict[name].detach().to(torch.float32, copy=True)
        if target.startswith("regression_head.level_scales."):
            level_scales[int(target.rsplit(".", 1)[1])] = tensor
        else:
            # (1, C, 1) LayerNorms and layer scales -> (C,); (C_out, C_in, 1) 1x1 convs -> (C_out, C_in) linears.
            converted[target] = tensor.reshape(target_shapes[target]).contiguous()
    converted["regression_head.level_scales"] = torch.stack([level_scales[i] for i in sorted(level_scales)])
    converted["loss_normalizer"] = torch.tensor(config.loss_normalizer_init)
    return converted


def unav_config(state_dict: dict[str, torch.Tensor]) -> LocoConfig:
    """The `unav-baseline` configuration for a UnAV state dict, `reference_padding` on.

    The input dims of the embedding convs pick the time grid: (2048, 128) I3D + VGGish on UnAV's 0.32 s grid,
    (1536, 1536) ONE-PEACE on the 0.25 s grid of `unav100-onepeace`. The network is otherwise the same.
    """
    dims = tuple(
        int(state_dict[f"backbone.embd_{modality}.0.conv.weight"].shape[1])
        for modality in ("V", "A")
        if f"backbone.embd_{modality}.0.conv.weight" in state_dict
    )
    if dims not in FEATURE_PRESETS:
        raise ValueError(
            f"UnAV checkpoints with input dims (visual, audio) in {sorted(FEATURE_PRESETS)} are known; this one "
            f"has {dims}."
        )
    grid = {field: PRESETS[FEATURE_PRESETS[dims]].get(field) for field in TIME_GRID_FIELDS}
    return LocoConfig.from_preset(
        "unav-baseline",
        reference_padding=True,
        **{field: value for field, value in grid.items() if value is not None},
    )


def build_converted_model_card(
    config: LocoConfig, source: str, use_ema: bool, sha256: str | None
) -> ModelCard:
    """The model card of a converted UnAV checkpoint: where the weights came from and how to feed them."""
    card_data = card_metadata(extra_tags=["unav"])
    digest = f" (sha256 `{sha256}`)" if sha256 else ""
    body = f"""
# UnAV baseline, converted to loco-hf

The UnAV baseline (Geng et al., *Dense-Localizing Audio-Visual Events in Untrimmed Videos*, CVPR 2023) for
**dense audio-visual event localization**, as the `unav-baseline` network of the `loco-hf` package.

## Origin of the weights

These are not weights trained by loco-hf. They are the {"EMA" if use_ema else "raw (non-EMA)"} weights of the
UnAV reference checkpoint `{source}`{digest}, released with the reference code ({UNAV_REPOSITORY}, MIT licence),
converted tensor by tensor with `loco_hf.convert_unav_checkpoint` (no value changed; names and shapes are
mapped as in loco-hf's `docs/conversion.md`).

## How to use

Inputs: visual features of {config.visual_dim} channels and audio features of {config.audio_dim} channels, one
step every {config.feature_stride} frames at {config.fps:g} fps ({config.seconds_per_step:.2f} s), as the UnAV
features. The config sets `reference_padding=True`: padded steps are handled as in the UnAV code, so outputs
depend on how much a video is padded. The feature extractor's default padding is UnAV's (every video padded to
{config.max_seq_len} steps, longer ones to a multiple of {config.pyramid_strides[-1]}); use it, and not
`padding="longest"`, to reproduce UnAV's outputs.

```python
from transformers import pipeline

localizer = pipeline(model="path/or/repo-of-this-model", trust_remote_code=True)
localizer({{"visual_features": visual, "audio_features": audio}})  # task "{TASK_TYPE}"
```

## Citation

```bibtex
{UNAV_CITATION}
```
"""
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n{body}")


def _file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_unav_checkpoint(
    checkpoint,
    output_dir: str | os.PathLike | None = None,
    use_ema: bool = True,
    config: LocoConfig | None = None,
) -> LocoForEventLocalization:
    """Converts a UnAV reference checkpoint into a `LocoForEventLocalization`, and optionally saves it.

    Args:
        checkpoint (`str`, `os.PathLike` or `dict`): a UnAV `*.pth.tar` (read with `torch.load(weights_only=True)`),
            or an already-loaded checkpoint or state dict (see `load_unav_state_dict`).
        output_dir (`str` or `os.PathLike`, *optional*): when given, writes a complete model folder there:
            model.safetensors, config.json, preprocessor_config.json, the modeling, feature-extraction and pipeline
            code (`save_pipeline`) and a README.md model card naming the source of the weights.
        use_ema (`bool`, default True): convert the EMA weights (`state_dict_ema`, those UnAV evaluates) rather
            than the raw ones (`state_dict`).
        config (`LocoConfig`, *optional*): the target configuration; default `unav-baseline` with
            `reference_padding=True` and the time grid of the checkpoint's input dims (`unav_config`).
    Returns:
        The converted model, in eval mode.
    Raises:
        ValueError naming every unmapped, missing or misshapen tensor, or when the file is not weights only.
    """
    state_dict = load_unav_state_dict(checkpoint, use_ema=use_ema)
    config = config if config is not None else unav_config(state_dict)
    converted = convert_unav_state_dict(state_dict, config)
    with torch.device("meta"):
        model = LocoForEventLocalization(config)
    model.load_state_dict(converted, strict=True, assign=True)
    model.eval()
    if output_dir is not None:
        output_dir = Path(output_dir)
        save_pipeline(model, LocoFeatureExtractor.from_model_config(config), output_dir)
        is_file = isinstance(checkpoint, (str, os.PathLike))
        source = Path(checkpoint).name if is_file else "(a state dict passed in memory)"
        card = build_converted_model_card(
            config, source, use_ema, _file_sha256(checkpoint) if is_file else None
        )
        card.save(output_dir / "README.md")
    return model
