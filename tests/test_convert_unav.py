"""Conversion of UnAV reference checkpoints, and the UnAV behaviours a converted checkpoint runs with.

The reference state dicts are built from the key table (`unav_key_table`), which the first test checks against the
facts of a reference model built with UnAV's own code: 558 tensors, 139,544,114 parameters, every loco-hf tensor
covered. The others use a tiny UnAV-shaped configuration.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import make_tiny_batch, make_tiny_config

from loco_hf import (
    PRESETS,
    LocoConfig,
    LocoFeatureExtractor,
    LocoForEventLocalization,
    cli,
    convert_unav_checkpoint,
    load_pipeline,
)
from loco_hf.cli import build_convert_parser
from loco_hf.convert_unav_original_to_loco import (
    convert_unav_state_dict,
    load_unav_state_dict,
    unav_config,
    unav_key_table,
)
from loco_hf.modeling_loco import (
    LocoAttentionBlock,
    interpolate_position_table,
    position_embeddings,
    position_table,
)

SCRIPT = Path(__file__).parents[1] / "scripts" / "convert_unav_checkpoint.py"
# The architecture fields of unav-baseline, without its 100 class names (the tiny configuration has 5).
UNAV_FIELDS = {
    key: value for key, value in PRESETS["unav-baseline"].items() if key not in ("id2label", "label2id")
}


def tiny_unav_config(**overrides) -> LocoConfig:
    return make_tiny_config(**{**UNAV_FIELDS, "reference_padding": True, **overrides})


def distinct_state_dict(config: LocoConfig, offset: float = 0.0) -> dict[str, torch.Tensor]:
    """A reference state dict whose tensors hold values no other tensor holds: tensor i is i + k / 1e4, k = 0, 1, ..."""
    return {
        name: (index + offset + torch.arange(math.prod(shape), dtype=torch.float32) / 1e4).reshape(shape)
        for index, (name, (_, shape)) in enumerate(unav_key_table(config).items())
    }


def test_key_table_is_the_unav_reference_model():
    config = LocoConfig.from_preset("unav-baseline")
    table = unav_key_table(config)
    assert len(table) == 558
    assert sum(math.prod(shape) for _, shape in table.values()) == 139_544_114
    with torch.device("meta"):
        target = LocoForEventLocalization(config).state_dict()
    level_scales = {name for name, _ in table.values() if name.startswith("regression_head.level_scales.")}
    targets = {name for name, _ in table.values()} - level_scales
    # Every loco-hf tensor is filled, once, with as many values as its source; only the loss normaliser is not saved.
    assert targets | {"regression_head.level_scales", "loss_normalizer"} == set(target)
    assert len(level_scales) == target["regression_head.level_scales"].numel() == 6
    for name, shape in table.values():
        if name in targets:
            assert target[name].numel() == math.prod(shape), name
    # A few entries in full, as the reference names and shapes them.
    expected = {
        "backbone.self_att_V.0.ln12.weight": ("loco.visual_encoder.0.norm_context.weight", (1, 512, 1)),
        "backbone.ori_cross_att_Av.attn.query.weight": (
            "loco.audio_pyramid.0.query.projection.weight",
            (512, 512, 1),
        ),
        "backbone.cross_att_Va.4.mlp.3.weight": ("loco.visual_pyramid.5.mlp_out.weight", (512, 2048, 1)),
        "dependency_block.feature_squeeze.conv.weight": ("loco.dependency.squeeze.weight", (1024, 12800, 3)),
        "cls_head.cls_head.conv.bias": ("classification_head.prior_bias", (100,)),
    }
    assert {name: table[name] for name in expected} == expected


def test_every_tensor_lands_where_it_should():
    config = tiny_unav_config()
    source = distinct_state_dict(config)
    model = convert_unav_checkpoint(source, config=config)
    parameters = dict(model.state_dict())
    for name, (target, _) in unav_key_table(config).items():
        if target.startswith("regression_head.level_scales."):
            level = int(target.rsplit(".", 1)[1])
            assert parameters["regression_head.level_scales"][level] == source[name], name
        else:
            assert torch.equal(parameters[target].flatten(), source[name].flatten()), name
    assert float(model.loss_normalizer) == config.loss_normalizer_init
    assert not model.training
    # The conversion copies: the model does not share memory with the source tensors.
    source["cls_head.cls_head.conv.bias"].fill_(-1.0)
    assert not torch.equal(model.classification_head.prior_bias, source["cls_head.cls_head.conv.bias"])


def test_unmapped_missing_and_misshapen_tensors_are_named():
    config = tiny_unav_config()
    source = distinct_state_dict(config)
    source["backbone.extra_block.weight"] = torch.zeros(3)
    del source["backbone.self_att_A.1.ln12.bias"]
    source["reg_head.scale.2.scale"] = torch.zeros(1)
    with pytest.raises(ValueError) as error:
        convert_unav_state_dict(source, config)
    message = str(error.value)
    assert "unmapped: backbone.extra_block.weight" in message
    assert "missing: backbone.self_att_A.1.ln12.bias" in message
    assert "wrong shape: reg_head.scale.2.scale (1,) (expected ())" in message


def test_a_network_other_than_unavs_is_refused():
    with pytest.raises(ValueError, match="got {'cross_attention_query_source': 'updated_stream'}"):
        unav_key_table(tiny_unav_config(cross_attention_query_source="updated_stream"))


def test_module_prefix_and_ema_choice():
    config = tiny_unav_config()
    raw, ema = distinct_state_dict(config), distinct_state_dict(config, offset=0.5)
    checkpoint = {
        "epoch": 40,
        "state_dict": {f"module.{name}": tensor for name, tensor in raw.items()},
        "state_dict_ema": {f"module.{name}": tensor for name, tensor in ema.items()},
    }
    key = "backbone.embd_V.0.conv.weight"
    assert torch.equal(load_unav_state_dict(checkpoint)[key], ema[key])
    assert torch.equal(load_unav_state_dict(checkpoint, use_ema=False)[key], raw[key])
    weights = (
        convert_unav_checkpoint(checkpoint, use_ema=False, config=config)
        .loco.visual_embedding.convs[0]
        .weight
    )
    assert torch.equal(weights, raw[key])
    with pytest.raises(ValueError, match="no 'state_dict_ema'.*use_ema=False"):
        load_unav_state_dict({"state_dict": checkpoint["state_dict"]})
    assert set(load_unav_state_dict(ema)) == set(ema)  # a bare state dict is taken as is


def test_pickled_code_is_never_run(tmp_path):
    marker = tmp_path / "payload_ran"

    class Payload:
        def __reduce__(self):
            return (Path.mkdir, (marker,))

    config = tiny_unav_config()
    path = tmp_path / "unav.pth.tar"
    torch.save({"state_dict_ema": distinct_state_dict(config), "payload": Payload()}, path)
    with pytest.raises(ValueError, match="weights only"):
        convert_unav_checkpoint(path, config=config)
    assert not marker.exists()


def test_config_follows_the_checkpoint_input_dims():
    full = {
        name: torch.empty(shape, device="meta")
        for name, (_, shape) in unav_key_table(unav_config_for()).items()
    }
    config = unav_config(full)
    assert config.reference_padding and (config.visual_dim, config.audio_dim, config.max_seq_len) == (
        2048,
        128,
        224,
    )
    assert config.to_diff_dict() == unav_config_for().to_diff_dict()
    assert list(config.id2label.values())[:3] == ["man speaking", "woman speaking", "kid speaking"]
    onepeace = dict(full)
    for modality in ("V", "A"):
        onepeace[f"backbone.embd_{modality}.0.conv.weight"] = torch.empty(512, 1536, 3, device="meta")
    config = unav_config(onepeace)
    assert (config.visual_dim, config.audio_dim, config.fps, config.feature_stride) == (1536, 1536, 16.0, 4)
    assert (config.feature_window, config.max_seq_len) == (16, 256)
    full["backbone.embd_A.0.conv.weight"] = torch.empty(512, 64, 3, device="meta")
    with pytest.raises(ValueError, match=r"\(2048, 64\)"):
        unav_config(full)


def unav_config_for() -> LocoConfig:
    return LocoConfig.from_preset("unav-baseline", reference_padding=True)


def test_converted_folder_round_trips_through_from_pretrained_and_the_pipeline(tmp_path):
    config = tiny_unav_config()
    checkpoint = tmp_path / "unav.pth.tar"
    generator = torch.Generator().manual_seed(0)
    source = {
        name: torch.randn(tensor.shape, generator=generator) * 0.1
        for name, tensor in distinct_state_dict(config).items()
    }
    for level in range(config.num_pyramid_levels):
        source[f"reg_head.scale.{level}.scale"] = torch.tensor(1.0)
    source["reg_head.offset_head.conv.bias"] = torch.full(
        (2 * config.num_labels,), 2.0
    )  # events of some length
    torch.save({"state_dict": source, "state_dict_ema": source}, checkpoint)
    model = convert_unav_checkpoint(checkpoint, output_dir=tmp_path / "converted", config=config)
    folder = tmp_path / "converted"
    for name in (
        "model.safetensors",
        "config.json",
        "preprocessor_config.json",
        "README.md",
        "pipeline_loco.py",
    ):
        assert (folder / name).exists(), name
    assert json.loads((folder / "config.json").read_text())["reference_padding"] is True
    card = (folder / "README.md").read_text()
    assert "unav.pth.tar" in card and "ttgeng233/UnAV" in card and "EMA" in card

    loaded = LocoForEventLocalization.from_pretrained(folder).eval()
    batch = make_tiny_batch(config, (20,))
    batch.pop("labels")
    with torch.no_grad():
        expected, actual = model(**batch), loaded(**batch)
    torch.testing.assert_close(actual.logits, expected.logits, rtol=0, atol=0)

    # The pipeline pads one short video to max_seq_len, as UnAV does, and gives the model's events.
    extractor = LocoFeatureExtractor.from_pretrained(folder)
    assert extractor.reference_padding
    visual, audio = batch["visual_features"][0, :20].numpy(), batch["audio_features"][0, :20].numpy()
    inputs = extractor(visual, audio, return_tensors="pt")
    assert inputs["attention_mask"].shape == (1, config.max_seq_len)
    with pytest.raises(ValueError, match="reference_padding"):
        extractor(visual, audio, padding="longest")
    with torch.no_grad():
        events = extractor.post_process_event_localization(model(**inputs), durations=[7.0])[0]
    video = {"visual_features": visual, "audio_features": audio, "duration": 7.0}
    predicted = load_pipeline(folder)(video, threshold=0.0)
    assert len(predicted) == len(events["scores"]) > 0
    scores = sorted(
        (event["score"] for event in predicted), reverse=True
    )  # the pipeline sorts events by time
    np.testing.assert_allclose(scores, events["scores"].numpy(), rtol=1e-6)


def test_convert_options():
    parse_args = build_convert_parser().parse_args
    required = ["--checkpoint", "unav.pth.tar", "--output_dir", "out"]
    assert parse_args(required).use_ema
    assert parse_args([*required, "--use_ema"]).use_ema
    assert not parse_args([*required, "--no_ema"]).use_ema
    assert parse_args([*required, "--push_to_hub", "org/unav"]).push_to_hub == "org/unav"


@pytest.mark.parametrize("content", [None, b"not a checkpoint"])
def test_convert_reports_a_bad_checkpoint_in_one_line(content, tmp_path, capsys):
    checkpoint = tmp_path / "unav.pth.tar"
    if content is not None:
        checkpoint.write_bytes(content)
    status = cli.main(["convert", "--checkpoint", str(checkpoint), "--output_dir", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert status == 2 and error.startswith("loco-hf convert: error:") and error.count("\n") == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_script_converts_a_full_size_checkpoint(tmp_path):
    table = unav_key_table(unav_config_for())
    source = {
        f"module.{name}": torch.full(shape, 0.01 * (index % 7))
        for index, (name, (_, shape)) in enumerate(table.items())
    }
    torch.save({"state_dict_ema": source, "state_dict": source, "epoch": 45}, tmp_path / "unav.pth.tar")
    output = tmp_path / "converted"
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--checkpoint",
            str(tmp_path / "unav.pth.tar"),
            "--output_dir",
            str(output),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "139,544,114 parameters" in result.stdout
    config = LocoConfig.from_pretrained(output)
    assert config.reference_padding and config.initializer == "unav" and config.num_labels == 100
    assert (output / "model.safetensors").stat().st_size > 139_544_114 * 4


# ---------------------------------------------------------------------------------------------------------------
# The UnAV network a converted checkpoint runs as (facts of the reference code, small hand-computed cases)
# ---------------------------------------------------------------------------------------------------------------


def test_linear_position_table_interpolation_is_unavs():
    table = position_table(224, 16)
    # Row t of UnAV's table: sin / cos of t / 10000^(2i / d), interleaved, scaled by 1 / sqrt(d).
    assert table[3, 2] == pytest.approx(math.sin(3 / 10000 ** (2 / 16)) / 4, abs=1e-7)
    assert table[3, 3] == pytest.approx(math.cos(3 / 10000 ** (2 / 16)) / 4, abs=1e-7)
    # A 256-step video: the table linearly interpolated to 256 rows (align_corners=False), as F.interpolate does.
    expected = F.interpolate(table.T[None], 256, mode="linear", align_corners=False)[0].T
    actual = interpolate_position_table(table, torch.tensor([[256.0]]), 256)[0]
    torch.testing.assert_close(actual, expected, rtol=0, atol=3e-8)
    # Shorter videos take the first rows unchanged.
    assert torch.equal(interpolate_position_table(table, torch.tensor([[100.0]]), 224)[0, :100], table[:100])


def test_position_table_stretch_follows_padding_only_with_reference_padding():
    mask = torch.arange(288) < 256  # a 256-step video padded to 288 (a multiple of 32)
    table = position_table(224, 512)
    own = F.interpolate(table.T[None], 256, mode="linear", align_corners=False)[0].T
    padded = F.interpolate(table.T[None], 288, mode="linear", align_corners=False)[0].T
    config = LocoConfig.from_preset("unav-baseline")
    torch.testing.assert_close(position_embeddings(mask[None], config)[0, :256], own, rtol=0, atol=1e-8)
    config = LocoConfig.from_preset("unav-baseline", reference_padding=True)
    torch.testing.assert_close(
        position_embeddings(mask[None], config)[0, :256], padded[:256], rtol=0, atol=1e-8
    )
    assert not position_embeddings(mask[None], config)[0, 256:].any()


def test_reference_padding_keeps_relu_of_the_layer_norm_bias_at_padded_steps():
    for reference_padding in (False, True):
        model = LocoForEventLocalization(tiny_unav_config(reference_padding=reference_padding))
        embedding = model.loco.visual_embedding
        with torch.no_grad():
            embedding.norms[-1].bias.copy_(torch.linspace(-1, 1, 32))
        mask = torch.arange(32)[None] < 20
        output = embedding(torch.randn(1, 32, 24) * mask[..., None], mask)
        expected = F.relu(torch.linspace(-1, 1, 32)) if reference_padding else torch.zeros(32)
        torch.testing.assert_close(output[0, 25], expected)


def test_reference_padding_max_pools_over_padded_zeros():
    # A stride-2 block whose branches are off: its output is the max-pooled residual (kernel 3, padding 1).
    hidden = torch.tensor([-1.0, -2.0, -3.0, 0.0]).view(1, 4, 1).expand(1, 4, 8).contiguous()
    mask = torch.tensor([[True, True, True, False]])
    pooled = {}
    for reference_padding in (False, True):
        config = tiny_unav_config(reference_padding=reference_padding, hidden_size=8, num_attention_heads=2)
        block = LocoAttentionBlock(config, 8, 2, 16, stride=2, is_cross_attention=True)
        with torch.no_grad():
            block.attention_scale.zero_(), block.mlp_scale.zero_()
        pooled[reference_padding] = block(hidden, mask, hidden)[0][0, :, 0]
    # Output step 1 covers input steps 1, 2, 3 (padded): UnAV takes the padded zero, loco-hf only the valid steps.
    assert pooled[True].tolist() == [-1.0, 0.0]
    assert pooled[False].tolist() == [-1.0, -2.0]


def record_argument(store: dict, key, position: int):
    """A forward pre-hook that keeps the first value of one positional argument under `key`."""

    def hook(module, args):
        store.setdefault(key, args[position])

    return hook


def test_reference_padding_tiles_the_dependency_mask_as_unav():
    masks = {}
    for reference_padding in (False, True):
        model = LocoForEventLocalization(tiny_unav_config(reference_padding=reference_padding)).eval()
        temporal = model.loco.dependency.temporal
        handle = temporal.register_forward_pre_hook(record_argument(masks, reference_padding, 1))
        batch = make_tiny_batch(model.config, (32, 20, 9))
        batch.pop("labels")
        with torch.no_grad():
            model(**batch)
        handle.remove()
    mask = batch["attention_mask"].bool()  # level 0 of 3 videos; 5 classes
    rows = torch.arange(3 * 5)
    assert torch.equal(masks[False], mask[rows // 5])  # row b * C + c: video b
    assert torch.equal(masks[True], mask[rows % 3])  # UnAV's tiling: video (b * C + c) mod B


def test_self_attention_queries_read_the_second_norm():
    config = tiny_unav_config()
    block = LocoForEventLocalization(config).loco.visual_encoder[0]
    with torch.no_grad():
        block.norm_hidden.weight.uniform_(0.5, 1.5)
        block.norm_context.weight.uniform_(-1.5, -0.5)
    seen = {}
    for name in ("query", "key", "value"):
        getattr(block, name).register_forward_pre_hook(record_argument(seen, name, 0))
    hidden = torch.randn(1, 32, 32)
    block(hidden, torch.ones(1, 32, dtype=torch.bool))
    torch.testing.assert_close(seen["query"], block.norm_context(hidden))  # UnAV's ln12
    torch.testing.assert_close(seen["key"], block.norm_hidden(hidden))  # UnAV's ln11
    torch.testing.assert_close(seen["value"], block.norm_hidden(hidden))
    assert LocoForEventLocalization(make_tiny_config()).loco.visual_encoder[0].norm_context is None


@pytest.mark.parametrize("field", ["initializer", "position_interpolation"])
def test_unknown_rule_names_are_refused(field):
    with pytest.raises(ValueError, match=f"LocoConfig.{field} must be one of"):
        make_tiny_config(**{field: "bilinear"})


def test_unav_initialisation():
    torch.manual_seed(0)
    model = LocoForEventLocalization(tiny_unav_config())
    depthwise = model.loco.visual_encoder[0].query.depthwise.weight  # fan_in 3
    projection = model.loco.visual_pyramid[1].mlp_in  # fan_in 32
    # PyTorch's default: uniform within 1 / sqrt(fan_in); biases zero; layer scales 1e-4; the class prior.
    assert depthwise.abs().max() <= 1 / math.sqrt(3) and depthwise.abs().max() > 0.8 / math.sqrt(3)
    assert projection.weight.abs().max() <= 1 / math.sqrt(32) and projection.weight.std() > 0.08
    assert not projection.bias.any() and not model.regression_head.output.bias.any()
    assert torch.all(model.loco.audio_encoder[1].attention_scale == 1e-4)
    assert torch.allclose(model.classification_head.prior_bias, torch.tensor(-math.log(99.0)))
    # LoCo presets keep N(0, 0.02).
    torch.manual_seed(0)
    assert LocoForEventLocalization(make_tiny_config()).loco.visual_pyramid[1].mlp_in.weight.std() < 0.03
