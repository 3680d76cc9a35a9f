import json
import math

import pytest
from huggingface_hub.errors import StrictDataclassFieldValidationError

from loco_hf import PRESETS, UNAV100_CLASS_NAMES, LocoConfig


def test_presets_are_listed_and_build():
    assert set(PRESETS) == {"unav100-i3d-vggish", "unav100-onepeace", "unav-baseline", "small"}
    for name in PRESETS:
        config = LocoConfig.from_preset(name)
        assert config.num_labels == len(config.id2label) == len(config.label2id)


def test_default_is_unav100_i3d_vggish():
    config = LocoConfig()
    assert (config.visual_dim, config.audio_dim, config.fps, config.feature_stride, config.feature_window) == (
        2048, 128, 25.0, 8, 24)  # fmt: skip
    assert config.max_seq_len == 224 and config.hidden_size == 512 and config.num_attention_heads == 4
    assert config.pyramid_strides == [1, 2, 4, 8, 16, 32] and config.max_stride == 32
    assert config.regression_ranges == [[0, 4], [4, 8], [8, 16], [16, 32], [32, 64], [64, 10000]]
    assert config.seconds_per_step == pytest.approx(0.32)
    assert config.id2label[0] == "man speaking" and config.id2label[99] == "hair dryer drying"
    assert config.label2id["dog barking"] == 12
    assert config.to_dict() == LocoConfig.from_preset("unav100-i3d-vggish").to_dict()


def test_onepeace_and_baseline_presets():
    onepeace = LocoConfig.from_preset("unav100-onepeace")
    assert (onepeace.visual_dim, onepeace.audio_dim, onepeace.fps, onepeace.feature_stride) == (
        1536,
        1536,
        16.0,
        4,
    )
    assert (onepeace.feature_window, onepeace.max_seq_len) == (16, 256)
    baseline = LocoConfig.from_preset("unav-baseline")
    assert not baseline.use_lcf and not baseline.use_lac
    assert baseline.cross_attention_query_source == "other_stream"
    assert LocoConfig().cross_attention_query_source == "updated_stream"


def test_small_preset_names_no_data_set():
    """The `small` preset fixes only the number of classes; a data set's class names replace the placeholders."""
    small = LocoConfig.from_preset("small")
    assert small.num_labels == 20 and small.id2label[0] == "LABEL_0" and small.label2id["LABEL_19"] == 19
    names = {i: f"event {i}" for i in range(20)}
    named = LocoConfig.from_preset("small", id2label=names)
    assert named.id2label == names and named.label2id["event 3"] == 3 and named.num_labels == 20


def test_unav100_class_names_match_the_annotation_file(unav100_annotations):
    pairs = {(a["label_id"], a["label"]) for v in unav100_annotations.values() for a in v["annotations"]}
    assert sorted(pairs) == list(enumerate(UNAV100_CLASS_NAMES))


def test_json_round_trip(tmp_path):
    config = LocoConfig.from_preset("small", lcf_radius=3, lac_initial_windows=[1.0, 2.0, 3.0, 5.0])
    config.save_pretrained(tmp_path)
    loaded = LocoConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == config.to_dict()
    assert loaded.id2label[2] == config.id2label[2] and isinstance(next(iter(loaded.id2label)), int)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "loco" and saved["regression_ranges"][0] == [0.0, 4.0]


def test_unknown_preset():
    with pytest.raises(ValueError, match="Unknown LoCo preset 'tiny'"):
        LocoConfig.from_preset("tiny")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"hidden_size": 30}, "hidden_size"),
        ({"max_seq_len": 100}, "max_seq_len"),
        ({"lcf_radius": -1}, "lcf_radius"),
        ({"lac_max_shift": -2.0}, "lac_max_shift"),
        ({"lac_min_window": 0.0}, "lac_min_window"),
        ({"lac_max_window": 0.2}, "lac_max_window"),
        ({"lac_initial_windows": [1.0, 2.0]}, "lac_initial_windows"),
        ({"lac_initial_windows": [1.0, 2.0, 4.0, 40.0]}, "lac_initial_windows"),
        ({"cross_attention_query_source": "self"}, "cross_attention_query_source"),
        ({"regression_ranges": [[0, 4]]}, "regression_ranges"),
        ({"regression_ranges": [[0, 4], [4, 8], [8, 16], [16, 32], [32, 64], [64, 10]]}, "regression_ranges"),
        ({"drop_path_rate": 1.0}, "drop_path_rate"),
        ({"classification_prior_prob": 0.0}, "classification_prior_prob"),
        ({"visual_dim": 0}, "visual_dim"),
        ({"lcf_temperature": 0.0}, "lcf_temperature"),
        ({"fps": -25.0}, "fps"),
        ({"num_pyramid_levels": 0}, "num_pyramid_levels"),
    ],
)
def test_invalid_values_name_the_field(overrides, field):
    with pytest.raises(ValueError, match=f"LocoConfig.{field}"):
        LocoConfig(**overrides)


def test_preset_with_new_class_names_derives_label2id():
    config = LocoConfig.from_preset("small", id2label={0: "bark", 1: "meow"})
    assert config.num_labels == 2 and config.label2id == {"bark": 0, "meow": 1}


@pytest.mark.parametrize(("old", "new"), [("self", "updated_stream"), ("other", "other_stream")])
def test_old_query_field_still_loads_with_a_warning(tmp_path, old, new):
    with pytest.warns(FutureWarning, match=f"cross_attention_query_source='{new}'"):
        assert LocoConfig(cross_attention_queries=old).cross_attention_query_source == new
    with pytest.warns(FutureWarning, match="cross_attention_query_source"):
        preset = LocoConfig.from_preset("unav-baseline", cross_attention_queries=old)
    assert preset.cross_attention_query_source == new
    # A config.json written before the rename.
    saved = LocoConfig.from_preset("small").to_dict()
    saved.pop("cross_attention_query_source")
    (tmp_path / "config.json").write_text(json.dumps({**saved, "cross_attention_queries": old}))
    with pytest.warns(FutureWarning, match="cross_attention_queries"):
        loaded = LocoConfig.from_pretrained(tmp_path)
    assert loaded.cross_attention_query_source == new
    assert "cross_attention_queries" not in loaded.to_dict()
    with pytest.warns(FutureWarning, match="read cross_attention_query_source"):
        assert loaded.cross_attention_queries == old
    with pytest.raises(ValueError, match="cross_attention_queries"):
        LocoConfig(cross_attention_queries="keys")


@pytest.mark.parametrize(("field", "built_in", "other"), [("lac_null_key", True, False)])
def test_removed_fields_load_when_they_ask_for_the_built_in_behaviour(tmp_path, field, built_in, other):
    saved = LocoConfig.from_preset("small").to_dict()
    (tmp_path / "config.json").write_text(json.dumps({**saved, field: built_in}))
    with pytest.warns(FutureWarning, match=field):
        loaded = LocoConfig.from_pretrained(tmp_path)
    assert field not in loaded.to_dict() and loaded.to_dict() == LocoConfig.from_preset("small").to_dict()
    with pytest.raises(ValueError, match=f"LocoConfig.{field}"):
        LocoConfig(**{field: other})


@pytest.mark.parametrize(
    "overrides",
    [
        {"lac_initial_windows": [1.0, 2.0, 4.0, math.nan]},
        {"regression_ranges": [[0, 4], [4, 8], [8, 16], [16, 32], [32, 64], [64, math.inf]]},
    ],
)
def test_non_finite_numbers_in_lists_are_rejected(overrides):
    with pytest.raises(ValueError, match=f"LocoConfig.{next(iter(overrides))} must be finite"):
        LocoConfig(**overrides)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_every_float_field_rejects_non_finite_values(value):
    floats = [name for name, annotation in LocoConfig.__annotations__.items() if annotation == float | int]
    assert len(floats) == 17 and "lcf_temperature" in floats and "fps" in floats
    for name in floats:
        with pytest.raises(ValueError, match=f"LocoConfig.{name} must be finite"):
            LocoConfig(**{name: value})


def test_an_int_for_a_float_field_is_stored_as_a_float(tmp_path):
    config = LocoConfig.from_preset("small", lac_max_shift=50, fps=25, lac_initial_windows=[1, 2, 4, 8])
    assert config.lac_max_shift == 50.0 and isinstance(config.lac_max_shift, float)
    assert isinstance(config.fps, float) and all(
        isinstance(width, float) for width in config.lac_initial_windows
    )
    # A hand-written config.json with whole numbers loads, and saves them back as floats.
    saved = config.to_dict()
    (tmp_path / "config.json").write_text(json.dumps({**saved, "fps": 25, "lac_max_shift": 50}))
    loaded = LocoConfig.from_pretrained(tmp_path)
    assert loaded.to_dict() == config.to_dict() and isinstance(loaded.fps, float)


def test_a_bool_for_a_float_field_is_rejected():
    with pytest.raises(StrictDataclassFieldValidationError, match="lac_max_shift"):
        LocoConfig(lac_max_shift=True)
