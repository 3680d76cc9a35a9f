import math
import subprocess
import sys
import textwrap
from unittest import mock

import pytest
import torch
from conftest import make_tiny_batch, make_tiny_config, randomize_like_trained

from loco_hf import LocoConfig, LocoForEventLocalization
from loco_hf.loss_loco import (
    assign_labels,
    diou_loss_1d,
    local_correspondence_loss,
    local_dot_products,
    local_weighted_sum,
    make_points,
    pad_labels,
    sigmoid_focal_loss,
    step_event_classes,
)
from loco_hf.modeling_loco import LocoLocalAdaptiveCrossAttention, LocoWindowedAttention, key_distances


def build(config, seed=0):
    torch.manual_seed(seed)
    return LocoForEventLocalization(config)


@pytest.mark.parametrize("lengths", [(32,), (32, 20, 9)])
def test_output_shapes_and_loss(tiny_config, lengths):
    model = build(tiny_config).train()
    batch = make_tiny_batch(tiny_config, lengths)
    output = model(**batch)
    batch_size, num_points, num_classes = len(lengths), 32 + 16 + 8, 5
    assert output.logits.shape == (batch_size, num_points, num_classes)
    assert output.segment_offsets.shape == (batch_size, num_points, num_classes, 2)
    assert output.point_positions.shape == output.point_strides.shape == (num_points,)
    assert output.point_mask.shape == (batch_size, num_points) and output.point_mask.dtype == torch.bool
    assert output.lcf_coherence.shape == (2, 2, batch_size, 32)
    for name in ("loss", "classification_loss", "regression_loss", "lcf_loss"):
        assert output[name].shape == () and torch.isfinite(output[name])
    assert (output.segment_offsets >= 0).all()
    # The point mask follows each video's valid length on every level.
    assert output.point_mask[:, :32].sum(1).tolist() == list(lengths)
    assert output.point_mask[:, 32:48].sum(1).tolist() == [(n + 1) // 2 for n in lengths]
    expected = tiny_config.regression_loss_weight * output.regression_loss + output.classification_loss
    torch.testing.assert_close(output.loss.detach(), expected + tiny_config.lcf_loss_weight * output.lcf_loss)


def test_base_model_carries_its_points_and_padded_length(tiny_config):
    """`LocoModel` returns everything label assignment needs: the points, their regression ranges and T."""
    batch = make_tiny_batch(tiny_config, (30, 9))
    base = build(tiny_config).loco.eval()(
        batch["visual_features"][:, :30], batch["audio_features"][:, :30], batch["attention_mask"][:, :30]
    )
    assert base.padded_length == 32  # 30 steps padded to the largest stride, 4
    positions, strides, ranges = make_points(32, tiny_config)
    for name, expected in (
        ("point_positions", positions),
        ("point_strides", strides),
        ("point_ranges", ranges),
    ):
        torch.testing.assert_close(base[name], expected, rtol=0, atol=0)
    assert base.last_hidden_state.shape == (2, 32 + 16 + 8, 2 * tiny_config.hidden_size)


def test_no_loss_without_labels(tiny_config, tiny_batch):
    tiny_batch.pop("labels")
    output = build(tiny_config).eval()(**tiny_batch)
    assert output.loss is None and output.classification_loss is None and output.logits is not None


def test_points_positions_and_strides(tiny_config):
    positions, strides, ranges = make_points(32, tiny_config)
    assert positions[:3].tolist() == [0, 1, 2] and positions[32:35].tolist() == [0, 2, 4]
    assert positions[48:].tolist() == [0, 4, 8, 12, 16, 20, 24, 28]
    assert strides.unique().tolist() == [1, 2, 4]
    assert ranges[0].tolist() == [0, 4] and ranges[-1].tolist() == [8, 10000]


def test_every_parameter_receives_a_gradient(tiny_config, tiny_batch):
    model = build(tiny_config).train()
    model(**tiny_batch).loss.backward()
    without = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert without == []


@pytest.mark.parametrize("stop_gradient", [False, True])
def test_lcf_stop_gradient_keeps_the_pair_logits_out_of_the_encoders(stop_gradient):
    config = make_tiny_config(lcf_stop_gradient=stop_gradient)
    inputs = {name: value for name, value in make_tiny_batch(config).items() if name != "labels"}
    model = build(config).eval()
    outputs = model.loco(**inputs)
    outputs.lcf_pair_logits.sum().backward()

    def gradient_sum(prefix):
        return sum(
            p.grad.abs().sum().item()
            for n, p in model.named_parameters()
            if n.startswith(prefix) and p.grad is not None
        )

    assert gradient_sum("loco.correspondence.0.audio_projection") > 0
    assert gradient_sum("loco.correspondence.1.pair_bias") > 0
    encoders = gradient_sum("loco.visual_encoder") + gradient_sum("loco.audio_encoder")
    assert (encoders == 0) == stop_gradient
    # the same values: only the gradients change
    assert torch.equal(
        build(make_tiny_config()).eval().loco(**inputs).lcf_pair_logits, outputs.lcf_pair_logits
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"use_lcf": False},
        {"use_lac": False},
        {"use_dependency_block": False},
        {"cross_attention_query_source": "other_stream"},
        {"use_lcf": False, "use_lac": False, "cross_attention_query_source": "other_stream"},
        {"lcf_radius": 0},
    ],
)
def test_ablation_switches(overrides):
    config = make_tiny_config(**overrides)
    model = build(config).train()
    output = model(**make_tiny_batch(config))
    assert torch.isfinite(output.loss)
    output.loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    # A module switched off owns no parameters, and its outputs are absent.
    for switch in ("use_lcf", "use_lac", "use_dependency_block"):
        on = make_tiny_config(**{**overrides, switch: True})
        if not getattr(config, switch):
            assert build(config).num_parameters() < build(on).num_parameters(), switch
    pyramid = [*model.loco.visual_pyramid, *model.loco.audio_pyramid]
    assert all(isinstance(block, LocoLocalAdaptiveCrossAttention) == config.use_lac for block in pyramid)
    if not config.use_lcf:
        assert output.lcf_loss == 0 and output.lcf_coherence is None
    else:
        assert output.lcf_loss > 0 and output.lcf_coherence is not None


def test_query_source_changes_the_outputs_not_the_weights(tiny_config, tiny_batch):
    """Both query conventions build the same parameters; they read them differently."""
    tiny_batch.pop("labels")
    updated = build(tiny_config).eval()
    other = build(make_tiny_config(cross_attention_query_source="other_stream")).eval()
    assert updated.state_dict().keys() == other.state_dict().keys()
    other.load_state_dict(updated.state_dict())
    assert not torch.allclose(updated(**tiny_batch).logits, other(**tiny_batch).logits)


def test_padding_does_not_change_valid_outputs(tiny_config):
    model = randomize_like_trained(build(tiny_config)).eval()
    batch = make_tiny_batch(tiny_config, (32, 20, 9))
    batch.pop("labels")
    short = model(**batch)
    longer = {
        key: torch.nn.functional.pad(value, (0, 0, 0, 32) if value.ndim == 3 else (0, 32))
        for key, value in batch.items()
    }
    # The 32-step video fills the short batch: only the longer one pads it, and its LayerNorm biases must not reach
    # the last valid steps. Garbage in the padding must not leak either.
    longer["visual_features"][:, 40:] = 7.0
    long = model(**longer)
    for level, stride in enumerate([1, 2, 4]):
        short_start = sum(32 // s for s in [1, 2, 4][:level])
        long_start = sum(64 // s for s in [1, 2, 4][:level])
        for video, length in enumerate((32, 20, 9)):
            count = -(-length // stride)
            torch.testing.assert_close(
                short.logits[video, short_start : short_start + count], long.logits[video, long_start : long_start + count],
                rtol=1e-4, atol=1e-5,
            )  # fmt: skip
            torch.testing.assert_close(
                short.segment_offsets[video, short_start : short_start + count],
                long.segment_offsets[video, long_start : long_start + count], rtol=1e-4, atol=1e-5,
            )  # fmt: skip


def test_batch_composition_does_not_change_outputs(tiny_config):
    model = build(tiny_config).eval()
    batch = make_tiny_batch(tiny_config, (32, 20, 9))
    batch.pop("labels")
    together = model(**batch)
    alone = model(**{key: value[1:2] for key, value in batch.items()})
    torch.testing.assert_close(together.logits[1], alone.logits[0], rtol=1e-4, atol=1e-5)


def test_fully_padded_video_stays_finite(tiny_config):
    model = build(tiny_config).eval()
    batch = make_tiny_batch(tiny_config, (32, 20, 9))
    batch.pop("labels")
    batch["attention_mask"][2] = 0
    output = model(**batch)
    assert torch.isfinite(output.logits).all() and torch.isfinite(output.segment_offsets).all()
    assert not output.point_mask[2].any()


def test_unpadded_length_is_padded_to_the_largest_stride(tiny_config):
    model = build(tiny_config).eval()
    output = model(torch.randn(2, 30, 24), torch.randn(2, 30, 12))
    assert output.logits.shape[1] == 32 + 16 + 8
    assert output.point_mask[:, :32].sum(1).tolist() == [30, 30]


def test_bad_input_shapes(tiny_config):
    model = build(tiny_config)
    with pytest.raises(ValueError, match="visual_dim=24"):
        model(torch.randn(1, 32, 25), torch.randn(1, 32, 12))
    with pytest.raises(ValueError, match="share"):
        model(torch.randn(1, 32, 24), torch.randn(1, 31, 12))
    with pytest.raises(ValueError, match="one dict per video"):
        model(
            torch.randn(2, 32, 24),
            torch.randn(2, 32, 12),
            labels=[{"class_labels": [0], "segments": [[1, 2]]}],
        )
    with pytest.raises(ValueError, match=r"class_labels.*\[0, 5\)"):
        model(
            torch.randn(1, 32, 24),
            torch.randn(1, 32, 12),
            labels=[{"class_labels": [7], "segments": [[1, 2]]}],
        )


def test_save_load_round_trip(tmp_path, tiny_config, tiny_batch):
    from transformers import AutoModel

    model = build(tiny_config).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    tiny_batch.pop("labels")
    expected = model(**tiny_batch)
    for loaded in (LocoForEventLocalization.from_pretrained(tmp_path), AutoModel.from_pretrained(tmp_path)):
        assert isinstance(loaded, LocoForEventLocalization)
        output = loaded.eval()(**tiny_batch)
        torch.testing.assert_close(output.logits, expected.logits)
        torch.testing.assert_close(output.segment_offsets, expected.segment_offsets)
    assert float(LocoForEventLocalization.from_pretrained(tmp_path).loss_normalizer) == 250.0


def test_initialisation(tiny_config):
    model = build(tiny_config)
    bias = model.classification_head.prior_bias
    torch.testing.assert_close(bias, torch.full_like(bias, -4.59512), atol=1e-4, rtol=0)
    assert model.regression_head.level_scales.tolist() == [1.0, 1.0, 1.0]
    block = model.loco.visual_pyramid[0]
    # LAC's attention branch and LCF's modulation start at layer scale 1, every other branch at 1e-4.
    assert torch.all(block.attention_scale == 1.0)
    assert torch.all(block.mlp_scale == tiny_config.layer_scale_init_value)
    assert torch.all(model.loco.visual_encoder[0].attention_scale == tiny_config.layer_scale_init_value)
    width = block.local_window
    initial = width.min_window + (width.max_window - width.min_window) * torch.sigmoid(width.width_bias)
    torch.testing.assert_close(initial, torch.tensor([1.0, 2.0]))
    assert torch.all(block.null_key == 0)
    correspondence = model.loco.correspondence[0]
    torch.testing.assert_close(
        correspondence.pair_log_scale.exp(), torch.tensor(1 / tiny_config.lcf_temperature)
    )
    assert correspondence.pair_bias == 0
    assert torch.all(correspondence.audio_scale == 1.0) and torch.all(correspondence.visual_scale == 1.0)


def test_layer_scale_starts_set_only_their_own_branch(tiny_config):
    """`lac_layer_scale_init_value` and `lcf_layer_scale_init_value` change the start of LAC's attention branch and of
    LCF's modulation, and nothing else: every other weight and the training random stream stay those of the default
    start, so the two starts compare on paired seeds."""
    default, default_draw = build(tiny_config, seed=3), torch.rand(4)
    changed_config = make_tiny_config(lac_layer_scale_init_value=1e-4, lcf_layer_scale_init_value=0.1)
    changed, changed_draw = build(changed_config, seed=3), torch.rand(4)
    starts = {"attention_scale": 1e-4, "audio_scale": 0.1, "visual_scale": 0.1}
    changed_weights = changed.state_dict()
    for name, weight in default.state_dict().items():
        branch = name.rsplit(".", 1)[-1]
        lac_start = "pyramid" in name and branch == "attention_scale"
        lcf_start = "correspondence" in name and branch in ("audio_scale", "visual_scale")
        if lac_start or lcf_start:
            weight = torch.full_like(weight, starts[branch])
        torch.testing.assert_close(changed_weights[name], weight, rtol=0, atol=0, msg=name)
    torch.testing.assert_close(changed_draw, default_draw, rtol=0, atol=0)
    assert LocoConfig.from_dict(changed_config.to_dict()).lac_layer_scale_init_value == 1e-4
    with pytest.raises(ValueError, match="lac_layer_scale_init_value"):
        make_tiny_config(lac_layer_scale_init_value=-1.0)


def test_switching_a_module_leaves_the_other_initial_weights_and_random_draws(tiny_config):
    """Ablations pair on the seed: with the same seed, every weight the variants share starts equal (but LAC's
    attention layer scale, a constant of its own), and so does the random stream that training goes on drawing from
    (drop-path); LCF's own weights change with the seed."""
    baseline_config = make_tiny_config(
        use_lcf=False, use_lac=False, cross_attention_query_source="other_stream"
    )
    baseline, baseline_draw = build(baseline_config, seed=3), torch.rand(4)
    loco, loco_draw = build(tiny_config, seed=3), torch.rand(4)
    baseline_weights, loco_weights = baseline.state_dict(), loco.state_dict()
    assert set(baseline_weights) < set(loco_weights)
    for name, weight in baseline_weights.items():
        if "pyramid" in name and name.endswith("attention_scale"):
            weight = torch.full_like(weight, 1.0)
        torch.testing.assert_close(loco_weights[name], weight, rtol=0, atol=0, msg=name)
    torch.testing.assert_close(loco_draw, baseline_draw, rtol=0, atol=0)

    projections = [build(tiny_config, seed).loco.correspondence[0].audio_projection.weight for seed in (3, 4)]
    assert not torch.equal(*projections)
    layer = loco.loco.correspondence[0]
    assert not torch.equal(layer.audio_projection.weight, layer.visual_projection.weight)


def test_lac_null_key_lets_a_query_take_nothing(tiny_config):
    block = build(tiny_config).eval().loco.visual_pyramid[0]
    generator = torch.Generator().manual_seed(0)
    hidden, first, second = torch.randn(3, 1, 16, tiny_config.hidden_size, generator=generator)
    mask = torch.ones(1, 16, dtype=torch.bool)
    with torch.no_grad():
        block.attention_scale.fill_(1.0)
        assert not torch.allclose(block(hidden, mask, first)[0], block(hidden, mask, second)[0])
        # Every query scores the null key far above any key of the other stream: it takes nothing from that stream.
        block.query.projection.weight.zero_()
        block.query.projection.bias.fill_(1.0)
        block.null_key.fill_(100.0)
        torch.testing.assert_close(block(hidden, mask, first)[0], block(hidden, mask, second)[0])


def test_lac_parameters_keep_their_place_in_the_parameter_order(tiny_config):
    # The clipped global gradient norm sums per-parameter norms in this order, so moving a parameter changes the
    # last bits of every trained weight: LAC's window and null key sit between the attention and the MLP.
    block = build(tiny_config).loco.visual_pyramid[0]
    assert [name for name, _ in block.named_parameters(recurse=False)] == [
        "null_key",
        "attention_scale",
        "mlp_scale",
    ]
    children = [name for name, _ in block.named_children()]
    assert children[children.index("output") :][:3] == ["output", "local_window", "norm_mlp"]


def test_bf16_forward(tiny_config, tiny_batch):
    model = build(tiny_config).eval()
    tiny_batch.pop("labels")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(**tiny_batch)
    assert torch.isfinite(output.logits.float()).all()
    model = model.to(torch.bfloat16)
    output = model(
        **{k: (v.to(torch.bfloat16) if v.is_floating_point() else v) for k, v in tiny_batch.items()}
    )
    assert output.logits.dtype == torch.bfloat16 and torch.isfinite(output.logits.float()).all()


def test_loss_normalizer_ema_updates_only_in_training(tiny_config, tiny_batch):
    model = build(tiny_config).eval()
    model(**tiny_batch)
    assert float(model.loss_normalizer) == 250.0
    model.train()
    output = model(**tiny_batch)
    assert 0 < float(model.loss_normalizer) < 250.0
    assert output.loss is not None


def test_unav_baseline_parameter_count():
    # The UnAV reference model (I3D + VGGish, dependency block), counted from a model built with its own code.
    with torch.device("meta"):
        model = LocoForEventLocalization(LocoConfig.from_preset("unav-baseline"))
    assert sum(p.numel() for p in model.parameters()) == 139_544_114


def reference_assignment(positions, strides, ranges, segments, classes, num_classes):
    """A plain loop over points and events, following the UnAV rules, with the shortest same-class event winning."""
    cls = torch.zeros(len(positions), num_classes)
    reg = torch.zeros(len(positions), num_classes, 2)
    best = torch.full((len(positions), num_classes), float("inf"))
    for p in range(len(positions)):
        t, s = float(positions[p]), float(strides[p])
        for (start, end), c in zip(segments.tolist(), classes.tolist(), strict=True):
            left, right = t - start, end - t
            if min(left, right) > 0 and ranges[p][0] <= max(left, right) <= ranges[p][1]:
                cls[p, c] = 1
                if end - start < best[p, c]:
                    best[p, c] = end - start
                    reg[p, c] = torch.tensor([left / s, right / s])
    return cls, reg


def test_assign_labels_matches_a_plain_loop(tiny_config):
    generator = torch.Generator().manual_seed(3)
    positions, strides, ranges = make_points(32, tiny_config)
    labels = []
    for count in (0, 1, 4, 7):
        starts = torch.rand(count, generator=generator) * 30 - 2
        lengths = torch.rand(count, generator=generator) * 20 + 0.3
        labels.append({"class_labels": torch.randint(0, 5, (count,), generator=generator),
                       "segments": torch.stack([starts, starts + lengths], -1)})  # fmt: skip
    # An event with boundaries exactly on points and a same-class pair sharing points.
    labels.append(
        {
            "class_labels": torch.tensor([2, 2, 0]),
            "segments": torch.tensor([[4.0, 8.0], [3.0, 12.0], [4.0, 8.0]]),
        }
    )
    segments, classes, valid = pad_labels(labels, 5, "cpu")
    cls, reg = assign_labels(positions, strides, ranges, segments, classes, valid, 5)
    for index, video in enumerate(labels):
        expected_cls, expected_reg = reference_assignment(
            positions, strides, ranges, video["segments"], video["class_labels"], 5
        )
        torch.testing.assert_close(cls[index], expected_cls)
        torch.testing.assert_close(reg[index], expected_reg)
    assert cls[0].sum() == 0
    # Point 4 sits on the boundary of [4, 8]: not strictly inside, so not positive for class 0 at level 0.
    assert cls[-1, 4, 0] == 0 and cls[-1, 6, 0] == 1 and reg[-1, 6, 0].tolist() == [2.0, 2.0]


def test_diou_and_focal_hand_computed():
    # Identical offsets: IoU 1, no centre distance -> 0.
    assert diou_loss_1d(torch.tensor([[2.0, 3.0]]), torch.tensor([[2.0, 3.0]])).item() == pytest.approx(0.0)
    # pred (1, 1), target (2, 2): IoU = 2/4; centres coincide -> 0.5.
    assert diou_loss_1d(torch.tensor([[1.0, 1.0]]), torch.tensor([[2.0, 2.0]])).item() == pytest.approx(0.5)
    # pred (0, 2) vs target (2, 0): intersection 0, union 4, enclosing 4, centre distance 0.5 * (2 - (-2)) = 2.
    assert diou_loss_1d(torch.tensor([[0.0, 2.0]]), torch.tensor([[2.0, 0.0]])).item() == pytest.approx(
        1 + 0.25
    )
    # Focal loss at logit 0: p = 0.5, CE = log 2, (1 - p_t)^2 = 0.25, alpha weights 0.25 / 0.75.
    loss = sigmoid_focal_loss(torch.zeros(2), torch.tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx(0.25 * 0.6931472 * 0.25 + 0.75 * 0.6931472 * 0.25, rel=1e-5)


def test_remote_code_loads_without_the_package(tmp_path, tiny_config, tiny_batch):
    model = build(tiny_config).eval()
    model.save_pretrained(tmp_path / "checkpoint")
    for name in ("configuration_loco.py", "modeling_loco.py", "loss_loco.py"):
        assert (tmp_path / "checkpoint" / name).exists()
    tiny_batch.pop("labels")
    torch.save({"inputs": tiny_batch, "logits": model(**tiny_batch).logits}, tmp_path / "expected.pt")
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["loco_hf"] = None  # make the installed package unimportable
        import torch
        from transformers import AutoModel
        model = AutoModel.from_pretrained({str(tmp_path / "checkpoint")!r}, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        expected = torch.load({str(tmp_path / "expected.pt")!r})
        torch.testing.assert_close(model(**expected["inputs"]).logits, expected["logits"])
        print("remote code ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "remote code ok" in result.stdout


def test_local_correspondence_loss_pairs():
    # One video of 4 steps, radius 1; steps 0-1 lie inside an event of class 0.
    step_classes = step_event_classes(
        torch.tensor([[[0.0, 1.0]]]), torch.tensor([[0]]), torch.tensor([[True]]), seq_len=4, num_classes=2
    )
    assert step_classes[0, :, 0].tolist() == [True, True, False, False]
    mask = torch.ones(1, 4, dtype=torch.bool)
    # Pair (audio t, visual t + o), o = -1, 0, 1. Positive pairs: (0, 0), (0, 1), (1, 0), (1, 1).
    positive = torch.tensor([[[0, 1, 1], [1, 1, 0], [0, 0, 0], [0, 0, 0]]], dtype=torch.bool)
    confident = torch.where(positive, 20.0, -20.0)  # right on every pair
    assert local_correspondence_loss(confident, mask, 1, step_classes) < 1e-6
    # Pairs beyond the ends of the video are not scored, whatever their logit.
    edges = confident.clone()
    edges[0, 0, 0] = edges[0, 3, 2] = 20.0
    assert local_correspondence_loss(edges, mask, 1, step_classes) < 1e-6
    # A one-modality step next to the event (pair (1, 2)) scored as a positive is penalised, and the positive and
    # the negative pairs weigh half each: 4 positives at log 2, 6 valid negatives of which one at 20.
    wrong = torch.zeros(1, 4, 3)
    wrong[positive] = 0.0
    wrong[~positive] = -20.0
    wrong[0, 1, 2] = 20.0
    expected = 0.5 * (math.log(2.0) + 20.0 / 6)
    torch.testing.assert_close(
        local_correspondence_loss(wrong, mask, 1, step_classes), torch.tensor(expected), atol=1e-4, rtol=1e-4
    )
    # A padded step takes no pair: padding step 3 drops three correct negatives, (2, 3), (3, 2) and (3, 3).
    padded = local_correspondence_loss(wrong, torch.tensor([[True, True, True, False]]), 1, step_classes)
    torch.testing.assert_close(padded, torch.tensor(0.5 * (math.log(2.0) + 20.0 / 3)), atol=1e-4, rtol=1e-4)
    # No labelled event: only negatives, and still differentiable.
    logits = torch.zeros(1, 4, 3, requires_grad=True)
    loss = local_correspondence_loss(logits, mask, 1, torch.zeros(1, 4, 2, dtype=torch.bool))
    torch.testing.assert_close(loss, torch.tensor(math.log(2.0)))
    loss.backward()
    assert logits.grad[0, 0, 0] == 0 and logits.grad[0, 1, 1] > 0


def test_local_window_kernels_match_their_definition_and_gradients():
    """LCF's two window kernels carry their own backward passes: values equal the definition written over explicit
    windows, and gradients pass `torch.autograd.gradcheck` in float64 (edges of the video included)."""
    generator = torch.Generator().manual_seed(0)
    queries, keys = (torch.randn(2, 7, 3, generator=generator, dtype=torch.float64) for _ in range(2))
    weights = torch.randn(2, 7, 5, generator=generator, dtype=torch.float64)
    radius = 2
    padded = torch.nn.functional.pad(keys, (0, 0, radius, radius))
    windows = torch.stack([padded[:, t : t + 2 * radius + 1] for t in range(7)], dim=1)  # (B, T, W, D)
    torch.testing.assert_close(
        local_dot_products(queries, keys, radius), torch.einsum("btd,btwd->btw", queries, windows)
    )
    torch.testing.assert_close(
        local_weighted_sum(weights, keys), torch.einsum("btw,btwd->btd", weights, windows)
    )
    inputs = [tensor.requires_grad_() for tensor in (queries, keys, weights)]
    assert torch.autograd.gradcheck(lambda q, k: local_dot_products(q, k, radius), inputs[:2])
    assert torch.autograd.gradcheck(lambda w, k: local_weighted_sum(w, k), (inputs[2], inputs[1]))


def test_lac_training_attention_gradients_pass_gradcheck():
    """`LocoWindowedAttention`'s backward pass against finite differences in float64, with a padded key and a
    shifted, per-query window; its output equals the bias built in full followed by the written-out softmax."""
    generator = torch.Generator().manual_seed(0)
    batch_size, num_heads, length, head_size = 2, 2, 5, 3

    def draw(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    query, key, value = (
        draw(batch_size, num_heads, length, head_size),
        *(draw(batch_size, num_heads, length + 1, head_size) for _ in range(2)),
    )
    shift = draw(batch_size, num_heads, length, 1)
    factor = -0.5 / (1 + draw(batch_size, num_heads, length, 1).square())
    distances = key_distances(length, torch.arange(-1, length, dtype=torch.float32)).double()
    padding = torch.zeros(batch_size, 1, 1, length + 1, dtype=torch.float64)
    padding[1, ..., -1] = torch.finfo(torch.float64).min  # the second video's last key is padding
    window = torch.where(padding == 0, factor * (distances - shift).square(), padding)
    window[..., 0] = 0.0  # the null key
    expected = (query @ key.transpose(-1, -2) / math.sqrt(head_size) + window).softmax(-1) @ value
    torch.testing.assert_close(
        LocoWindowedAttention.apply(query, key, value, shift, factor, distances, padding), expected
    )
    inputs = [tensor.requires_grad_() for tensor in (query, key, value, shift, factor)]
    assert torch.autograd.gradcheck(
        lambda *tensors: LocoWindowedAttention.apply(*tensors, distances, padding), inputs
    )


# ---- forward keywords, attention implementations, gradient checkpointing ----------------------------------------


def test_forward_rejects_unknown_keywords(tiny_config, tiny_batch):
    """A misspelt keyword (here `attention_masks`) must not run silently without the mask."""
    model = build(tiny_config).eval()
    visual, audio, mask = (tiny_batch[key] for key in ("visual_features", "audio_features", "attention_mask"))
    for module in (model, model.loco):
        with pytest.raises(TypeError, match="attention_masks"):
            module(visual, audio, attention_masks=mask)


def test_return_dict_false_gives_the_tuple(tiny_config, tiny_batch):
    model = build(tiny_config).eval()
    with torch.no_grad():
        output = model(**tiny_batch)
        as_tuple = model(**tiny_batch, return_dict=False)
        base_tuple = model.loco(
            *(tiny_batch[key] for key in ("visual_features", "audio_features")), return_dict=False
        )
    assert isinstance(as_tuple, tuple) and isinstance(base_tuple, tuple)
    # loss, its 3 terms, logits, offsets, 3 point fields, LCF coherence
    assert len(as_tuple) == len(output.to_tuple()) == 10
    for got, want in zip(as_tuple, output.to_tuple(), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert base_tuple[0].shape == output.logits.shape[:2] + (2 * tiny_config.hidden_size,)
    # The config's return_dict is the default, as in any transformers model.
    model.config.return_dict = False
    with torch.no_grad():
        assert isinstance(model(**tiny_batch), tuple)


def test_output_hidden_states_are_the_fused_levels(tiny_config, tiny_batch):
    model = build(tiny_config).eval()
    with torch.no_grad():
        assert model(**tiny_batch).hidden_states is None
        output = model(**tiny_batch, output_hidden_states=True)
        base = model.loco(
            tiny_batch["visual_features"], tiny_batch["audio_features"], tiny_batch["attention_mask"],
            output_hidden_states=True,
        )  # fmt: skip
    batch_size, seq_len = tiny_batch["attention_mask"].shape
    expected_shapes = [
        (batch_size, seq_len // 2**level, 2 * tiny_config.hidden_size)
        for level in range(tiny_config.num_pyramid_levels)
    ]
    assert [tuple(h.shape) for h in output.hidden_states] == expected_shapes
    torch.testing.assert_close(torch.cat(base.hidden_states, dim=1), base.last_hidden_state, rtol=0, atol=0)
    for from_head_model, from_base in zip(output.hidden_states, base.hidden_states, strict=True):
        torch.testing.assert_close(from_head_model, from_base, rtol=0, atol=0)


def test_attention_implementations(tmp_path, tiny_config):
    """sdpa is the default; eager gives the same outputs to float tolerance, a video of padding included."""
    model = build(tiny_config).eval()
    assert model.config._attn_implementation == "sdpa"
    model.save_pretrained(tmp_path)
    eager = LocoForEventLocalization.from_pretrained(tmp_path, attn_implementation="eager").eval()
    sdpa = LocoForEventLocalization.from_pretrained(tmp_path, attn_implementation="sdpa").eval()
    assert eager.config._attn_implementation == "eager" and sdpa.config._attn_implementation == "sdpa"
    batch = make_tiny_batch(tiny_config, lengths=(32, 20, 0))  # the last video has no valid step at all
    with torch.no_grad():
        expected = model(**batch)
        from_sdpa = sdpa(**batch)
        from_eager = eager(**batch)
    torch.testing.assert_close(from_sdpa.logits, expected.logits, rtol=0, atol=0)
    assert torch.isfinite(from_eager.logits).all() and torch.isfinite(from_eager.segment_offsets).all()
    torch.testing.assert_close(from_eager.logits, expected.logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(from_eager.segment_offsets, expected.segment_offsets, rtol=1e-4, atol=1e-5)
    # Switching in place applies to every block at once.
    model.set_attn_implementation("eager")
    with torch.no_grad():
        torch.testing.assert_close(model(**batch).logits, from_eager.logits, rtol=0, atol=0)
    with pytest.raises(ValueError, match="does not support Flash Attention"):
        LocoForEventLocalization.from_pretrained(tmp_path, attn_implementation="flash_attention_2")


def test_eager_and_sdpa_functions_agree_on_a_fully_masked_row():
    from loco_hf.modeling_loco import eager_attention, sdpa_attention

    generator = torch.Generator().manual_seed(0)
    query, key, value = (torch.randn(2, 3, 5, 4, generator=generator) for _ in range(3))
    # The second item has no valid key at all.
    key_valid = torch.tensor([[True, True, False, True, False], [False] * 5])
    bias = torch.zeros(2, 1, 1, 5).masked_fill(~key_valid.view(2, 1, 1, 5), torch.finfo(torch.float32).min)
    bias = bias + torch.randn(2, 3, 5, 5, generator=generator)  # a LAC-like window bias on top
    eager, sdpa = eager_attention(query, key, value, bias), sdpa_attention(query, key, value, bias)
    assert torch.isfinite(eager).all() and torch.isfinite(sdpa).all()
    torch.testing.assert_close(eager, sdpa, rtol=1e-5, atol=1e-6)
    weights = (query @ key.transpose(-1, -2) / 2 + bias).softmax(-1)  # hand-written, d_head = 4
    torch.testing.assert_close(eager, weights @ value, rtol=1e-5, atol=1e-6)


def test_lac_training_attention_gives_the_eager_gradients(tiny_batch):
    """Training on the CPU under sdpa runs LAC as one `LocoWindowedAttention` with its own backward pass; its loss
    and gradients equal the eager path's (bias built, then softmax written out), padded videos included."""
    config = make_tiny_config(drop_path_rate=0.0)

    def step(implementation: str):
        model = build(config).train()
        generator = torch.Generator().manual_seed(3)
        for module in model.modules():
            # windows that vary by query, a live null key
            if isinstance(module, LocoLocalAdaptiveCrossAttention):
                for parameter in (
                    module.local_window.shift_weight,
                    module.local_window.width_weight,
                    module.null_key,
                ):
                    parameter.data = torch.randn(parameter.shape, generator=generator) * 0.5
        model.set_attn_implementation(implementation)
        output = model(**tiny_batch)
        output.loss.backward()
        return output.loss.detach(), {name: p.grad for name, p in model.named_parameters()}

    with mock.patch.object(
        LocoWindowedAttention, "apply", side_effect=LocoWindowedAttention.apply
    ) as fused_calls:
        fused_loss, fused = step("sdpa")
    # One call per LAC block (visual and audio update) and level.
    assert fused_calls.call_count == 2 * config.num_pyramid_levels
    eager_loss, eager = step("eager")
    torch.testing.assert_close(fused_loss, eager_loss, rtol=1e-6, atol=0)
    for name, gradient in eager.items():
        scale = gradient.abs().max().item()
        torch.testing.assert_close(fused[name], gradient, rtol=0, atol=1e-5 * scale + 1e-9, msg=name)
    assert eager["loco.visual_pyramid.0.local_window.shift_weight"].abs().max() > 0


def test_gradient_checkpointing_gives_the_same_gradients(tiny_config, tiny_batch):
    """Checkpointed blocks recompute their forward in backward; drop-path must draw the same masks again. The
    dependency block runs one video at a time under checkpointing, so its weight gradients are summed over the
    videos in another order: each gradient agrees to 1e-5 of its largest entry, not to the bit."""
    config = make_tiny_config(drop_path_rate=0.3)

    def step(checkpointing: bool):
        model = build(config).train()
        if checkpointing:
            model.activation_checkpointing_enable()
        torch.manual_seed(1)
        output = model(**tiny_batch)
        output.loss.backward()
        gradients = {name: p.grad for name, p in model.named_parameters()}
        return model, output.loss.detach(), gradients, torch.rand(4)

    plain_model, plain_loss, plain_gradients, plain_next_draw = step(False)
    model, loss, gradients, next_draw = step(True)
    checkpointed = [
        name for name, module in model.named_modules() if getattr(module, "gradient_checkpointing", False)
    ]
    # Every attention block of the encoders and the pyramid, and the dependency block (not its inner blocks).
    assert "loco.dependency" in checkpointed and "loco.visual_pyramid.0" in checkpointed
    assert not any(name.startswith("loco.dependency.") for name in checkpointed)
    assert not any(getattr(m, "gradient_checkpointing", False) for m in plain_model.modules())
    torch.testing.assert_close(loss, plain_loss, rtol=0, atol=0)
    # The random stream moves on as it does without checkpointing.
    torch.testing.assert_close(next_draw, plain_next_draw, rtol=0, atol=0)
    for name, gradient in plain_gradients.items():
        scale = gradient.abs().max().item()
        torch.testing.assert_close(gradients[name], gradient, rtol=0, atol=1e-5 * scale + 1e-12, msg=name)
    with pytest.warns(FutureWarning):  # transformers' older name still works (and points to the new one)
        build(config).gradient_checkpointing_enable()


# (checkpointing, reference_padding, batch size the block sees, calls per level: forward and recomputation)
@pytest.mark.parametrize(
    ("checkpointing", "reference_padding", "expected_batch", "calls_per_level"),
    [(True, False, 1, 2 * 3), (False, False, 3, 1), (True, True, 3, 2)],
)
def test_gradient_checkpointing_recomputes_the_dependency_block_one_video_at_a_time(
    tiny_batch, checkpointing, reference_padding, expected_batch, calls_per_level
):
    """The dependency block's per-class expansion sets the peak memory of a large batch: under checkpointing it
    runs, forward and recomputation alike, on one video at a time; without it, on the whole batch. With
    `reference_padding` (UnAV's mask tiling mixes the videos' rows) it is checkpointed as a whole."""
    config = make_tiny_config(drop_path_rate=0.3, reference_padding=reference_padding)
    model = build(config).train()
    if checkpointing:
        model.activation_checkpointing_enable()
    batch_sizes = []
    model.loco.dependency.expand.register_forward_hook(
        lambda module, inputs, output: batch_sizes.append(inputs[0].shape[0])
    )
    model(**tiny_batch).loss.backward()
    assert batch_sizes == [expected_batch] * (calls_per_level * config.num_pyramid_levels)


@pytest.mark.parametrize(
    ("class_labels", "segments", "message"),
    [
        ([1], [[10.0, 5.0]], "end > start"),  # start > end
        ([1], [[6.0, 6.0]], "end > start"),  # zero length
        ([1], [[math.nan, 6.0]], "finite"),
        ([1], [[-20.0, -10.0]], "outside the video's 20 steps"),  # before the first feature's window
        ([1], [[25.0, 30.0]], "outside the video's 20 steps"),  # after the last valid step
        (torch.tensor([1.7]), [[2.0, 6.0]], "integer class ids"),
        ([1, 2], [[2.0, 6.0]], r"shape \(2, 2\)"),
    ],
)
def test_labels_that_no_point_could_learn_are_errors(tiny_config, class_labels, segments, message):
    model = build(tiny_config)
    mask = torch.zeros(1, 32, dtype=torch.long)
    mask[0, :20] = 1
    with pytest.raises(ValueError, match=message):
        model(
            torch.randn(1, 32, 24),
            torch.randn(1, 32, 12),
            attention_mask=mask,
            labels=[{"class_labels": class_labels, "segments": segments}],
        )


def test_labels_at_the_edges_of_the_video_are_accepted(tiny_config):
    # An event within the first feature's window (a short event at 0 s starts at -1.5 steps) and one reaching past
    # the last valid step, as annotations in seconds give: both overlap what the features cover.
    model = build(tiny_config)
    mask = torch.zeros(1, 32, dtype=torch.long)
    mask[0, :20] = 1
    labels = [{"class_labels": [1, 2], "segments": [[-1.5, -0.6], [15.0, 20.4]]}]
    output = model(torch.randn(1, 32, 24), torch.randn(1, 32, 12), attention_mask=mask, labels=labels)
    assert torch.isfinite(output.loss)


@pytest.mark.parametrize(
    "switch", ["use_lac", "use_lcf", "use_dependency_block", "use_self_attention_query_norm"]
)
@pytest.mark.parametrize("saved_value", [True, False])
def test_weights_that_disagree_with_a_switch_refuse_to_load(tmp_path, switch, saved_value):
    import json

    build(make_tiny_config(**{switch: saved_value})).save_pretrained(tmp_path / "saved")
    # Loaded with the switch flipped, by an argument or by an edited config.json.
    with pytest.raises(
        ValueError, match=f"{switch}={not saved_value}: the weights were saved with {switch}={saved_value}"
    ):
        LocoForEventLocalization.from_pretrained(tmp_path / "saved", **{switch: not saved_value})
    config_path = tmp_path / "saved" / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), switch: not saved_value}))
    with pytest.raises(ValueError, match=switch):
        LocoForEventLocalization.from_pretrained(tmp_path / "saved")


def test_other_missing_keys_keep_transformers_behaviour(tmp_path, tiny_config):
    from loco_hf import LocoModel

    build(tiny_config).save_pretrained(tmp_path)
    # The base model from a checkpoint with heads: the heads are unexpected keys, which transformers only reports.
    base, info = LocoModel.from_pretrained(tmp_path, output_loading_info=True)
    assert isinstance(base, LocoModel) and any(
        key.startswith("classification_head") for key in info["unexpected_keys"]
    )
