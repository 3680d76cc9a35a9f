"""Tests of the UnAV-100 builder, the event-dataset loader and the Parquet export, on a slice of the real annotation
file (tests/data/unav100_slice.json) and generated feature files."""

import json
import logging
import math
import re
import subprocess
import sys
from pathlib import Path

import datasets
import huggingface_hub
import numpy as np
import pytest
from hub_server import hub_environment, serve, stop

from loco_hf.configuration_loco import UNAV100_CLASS_NAMES
from loco_hf.data import (
    UnAV100Builder,
    export_to_parquet,
    load_event_dataset,
    load_unav100_annotations,
    prepare_unav100,
)

# A slice of the real annotation file (three dozen videos of all splits; tests/data/make_unav100_slice.py says how
# it was made), and the full file where the shared data is present.
SLICE_ANNOTATIONS = Path(__file__).resolve().parent / "data" / "unav100_slice.json"
REAL_ANNOTATIONS = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "unav100" / "unav100_annotations.json"
)


def expected_steps(duration: float, fps: float = 25.0, stride: int = 8, window: int = 24) -> int:
    """T = floor((fps * duration - window) / stride) + 1, the reference's feature length."""
    return max(math.floor((fps * duration - window) / stride) + 1, 1)


def slice_database() -> dict:
    """The videos of the shipped slice, in the release's JSON format."""
    return json.loads(SLICE_ANNOTATIONS.read_text())["database"]


def write_release(root: Path, database: dict, streams=None, seed: int = 0) -> Path:
    """A release tree: annotations/unav100_annotations.json and av_features/<id>_<stream>.npy of the mapped lengths."""
    streams = streams or {"rgb": 1024, "flow": 1024, "vggish": 128}
    rng = np.random.default_rng(seed)
    (root / "annotations").mkdir(parents=True)
    (root / "av_features").mkdir()
    (root / "annotations" / "unav100_annotations.json").write_text(
        json.dumps({"version": "test", "database": database})
    )
    for video_id, video in database.items():
        num_steps = expected_steps(video["duration"])
        for suffix, dim in streams.items():
            array = rng.standard_normal((num_steps, dim)).astype(np.float32)
            np.save(root / "av_features" / f"{video_id}_{suffix}.npy", array)
    return root


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return write_release(tmp_path_factory.mktemp("unav100_release"), slice_database())


@pytest.fixture(scope="module")
def prepared(release, tmp_path_factory) -> datasets.DatasetDict:
    return prepare_unav100(release, cache_dir=str(tmp_path_factory.mktemp("cache")))


def small_release(tmp_path: Path, count: int = 5) -> Path:
    database = dict(list(slice_database().items())[:count])
    return write_release(tmp_path / "release", database)


# ------------------------------------------------------------------------------------------------------------
# Annotations
# ------------------------------------------------------------------------------------------------------------


def test_slice_parses_as_written():
    raw = slice_database()
    videos = load_unav100_annotations(SLICE_ANNOTATIONS)
    assert list(videos) == list(raw)
    assert {video["subset"] for video in videos.values()} == {"train", "validation", "test"}
    for video_id, video in videos.items():
        annotations = raw[video_id]["annotations"]
        assert video["duration"] == raw[video_id]["duration"]
        assert video["segments"] == [a["segment"] for a in annotations]
        assert video["labels"] == [a["label_id"] for a in annotations]
        assert [UNAV100_CLASS_NAMES[i] for i in video["labels"]] == [a["label"] for a in annotations]


@pytest.mark.skipif(
    not REAL_ANNOTATIONS.exists(), reason="whole-file counts need the full UnAV-100 annotations"
)
def test_real_annotation_file_parses():
    videos = load_unav100_annotations(REAL_ANNOTATIONS)
    assert len(videos) == 10790
    assert sum(len(video["labels"]) for video in videos.values()) == 30059
    assert len({label for video in videos.values() for label in video["labels"]}) == 100
    sizes = {
        split: sum(video["subset"] == split for video in videos.values())
        for split in ("train", "validation", "test")
    }
    assert sizes == {"train": 6489, "validation": 2134, "test": 2167}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda v: v.update(subset="val"), "subset"),
        (lambda v: v["annotations"][0].update(segment=[3.0, 2.0]), "segment"),
        (lambda v: v["annotations"][0].update(segment=[0.0, v["duration"] + 5.0]), "segment"),
        (lambda v: v["annotations"][0].update(label_id=100), "label_id"),
        (lambda v: v["annotations"][0].update(label="not a class"), "does not match"),
        (lambda v: v.update(duration=-1.0), "duration"),
        (lambda v: v.pop("annotations"), "keys"),
    ],
)
def test_invalid_annotations_name_the_video(tmp_path, change, message):
    database = dict(list(slice_database().items())[:2])
    video_id = list(database)[1]
    change(database[video_id])
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps({"database": database}))
    with pytest.raises(ValueError, match=message) as error:
        load_unav100_annotations(path)
    assert video_id in str(error.value)


def test_annotation_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_unav100_annotations(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="Cannot parse"):
        load_unav100_annotations(tmp_path / "broken.json")


# ------------------------------------------------------------------------------------------------------------
# Builder
# ------------------------------------------------------------------------------------------------------------


def test_builder_splits_schema_and_round_trip(prepared, release):
    database = json.loads((release / "annotations" / "unav100_annotations.json").read_text())["database"]
    for split in ("train", "validation", "test"):
        assert prepared[split].num_rows == sum(video["subset"] == split for video in database.values())
    features = prepared["train"].features
    assert features["visual_features"] == datasets.Array2D(shape=(None, 2048), dtype="float32")
    assert features["audio_features"] == datasets.Array2D(shape=(None, 128), dtype="float32")
    assert features["labels"].feature.names == UNAV100_CLASS_NAMES

    for split in ("train", "test"):
        row = prepared[split].with_format("numpy")[0]
        video_id = str(row["video_id"])
        folder = release / "av_features"
        rgb, flow = np.load(folder / f"{video_id}_rgb.npy"), np.load(folder / f"{video_id}_flow.npy")
        np.testing.assert_array_equal(row["visual_features"], np.concatenate([rgb, flow], axis=1))
        np.testing.assert_array_equal(row["audio_features"], np.load(folder / f"{video_id}_vggish.npy"))
        assert len(row["visual_features"]) == expected_steps(database[video_id]["duration"])
        annotations = database[video_id]["annotations"]
        np.testing.assert_allclose(row["segments"], [a["segment"] for a in annotations], rtol=1e-6)
        assert row["labels"].tolist() == [a["label_id"] for a in annotations]
        assert row["duration"] == pytest.approx(database[video_id]["duration"])
        assert (row["fps"], row["feature_stride"], row["feature_window"]) == (25.0, 8, 24)


def test_builder_truncates_streams_to_common_length(tmp_path):
    root = small_release(tmp_path, count=2)
    video_id = next(
        iter(json.loads((root / "annotations" / "unav100_annotations.json").read_text())["database"])
    )
    vggish = np.load(root / "av_features" / f"{video_id}_vggish.npy")
    np.save(root / "av_features" / f"{video_id}_vggish.npy", vggish[:-3])
    dataset = prepare_unav100(root, cache_dir=str(tmp_path / "cache"))
    row = next(
        r for split in dataset.values() for r in split.with_format("numpy") if r["video_id"] == video_id
    )
    assert len(row["visual_features"]) == len(row["audio_features"]) == len(vggish) - 3


def test_builder_float16_storage(tmp_path):
    root = small_release(tmp_path, count=3)
    dataset = prepare_unav100(root, cache_dir=str(tmp_path / "cache"), feature_dtype="float16")
    split = next(iter(dataset.values()))
    assert split.features["visual_features"].dtype == "float16"
    # stored as half floats (the numpy formatter gives float32 back)
    assert "halffloat" in str(split.data.schema.field("visual_features").type.storage_type)
    row = split.with_format("numpy")[0]
    rgb = np.load(root / "av_features" / f"{row['video_id']}_rgb.npy")
    np.testing.assert_allclose(row["visual_features"][:, :1024].astype(np.float32), rgb, atol=2e-3)


def test_onepeace_config(tmp_path):
    database = dict(list(slice_database().items())[:3])
    root = write_release(
        tmp_path / "release", database, streams={"one_peace_video_finetune": 1536, "one_peace_audio": 1536}
    )
    dataset = prepare_unav100(root, config_name="onepeace", cache_dir=str(tmp_path / "cache"))
    split = next(iter(dataset.values()))
    assert split.features["visual_features"].shape == (None, 1536)
    assert split.features["audio_features"].shape == (None, 1536)
    row = split.with_format("numpy")[0]
    assert (row["fps"], row["feature_stride"], row["feature_window"]) == (16.0, 4, 16)


def test_missing_annotation_file_or_feature_folder(tmp_path):
    root = small_release(tmp_path, count=2)
    (root / "annotations" / "unav100_annotations.json").rename(root / "moved.json")
    with pytest.raises(FileNotFoundError, match="annotation file"):
        prepare_unav100(root, cache_dir=str(tmp_path / "cache"))
    (root / "moved.json").rename(root / "annotations" / "unav100_annotations.json")
    (root / "av_features").rename(root / "features_elsewhere")
    with pytest.raises(FileNotFoundError, match="feature folder"):
        prepare_unav100(root, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="data_dir"):
        UnAV100Builder(cache_dir=str(tmp_path / "cache")).download_and_prepare()


def test_missing_videos_are_named_or_skipped_with_one_warning(tmp_path, caplog):
    root = small_release(tmp_path, count=6)
    video_ids = list(json.loads((root / "annotations" / "unav100_annotations.json").read_text())["database"])
    for video_id, suffix in zip(video_ids[1:4], ("flow", "vggish", "rgb"), strict=True):
        (root / "av_features" / f"{video_id}_{suffix}.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"3 of 6 videos") as error:
        prepare_unav100(root, cache_dir=str(tmp_path / "cache"))
    assert video_ids[1] in str(error.value) and "skip_missing_videos" in str(error.value)

    with caplog.at_level(logging.WARNING, logger="transformers.loco_hf.data.unav100"):
        dataset = prepare_unav100(root, cache_dir=str(tmp_path / "cache"), skip_missing_videos=True)
    warnings = [
        r
        for r in caplog.records
        if r.name == "transformers.loco_hf.data.unav100" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1 and "3 of 6 videos" in warnings[0].getMessage()
    kept = {video_id for split in dataset.values() for video_id in split["video_id"]}
    assert kept == set(video_ids) - set(video_ids[1:4])


@pytest.mark.parametrize(
    ("corruption", "error_type", "message"),
    [
        ("flow_length", ValueError, "different lengths"),
        ("vggish_dim", ValueError, "expects"),
        ("garbage", ValueError, "Cannot read"),
        ("truncated", ValueError, "truncated"),
        ("nan", ValueError, "NaN"),
    ],
)
def test_bad_feature_files_are_named(tmp_path, corruption, error_type, message):
    root = small_release(tmp_path, count=2)
    video_id = next(
        iter(json.loads((root / "annotations" / "unav100_annotations.json").read_text())["database"])
    )
    folder = root / "av_features"
    if corruption == "flow_length":
        np.save(folder / f"{video_id}_flow.npy", np.load(folder / f"{video_id}_flow.npy")[:-1])
        named = video_id
    elif corruption == "vggish_dim":
        np.save(folder / f"{video_id}_vggish.npy", np.zeros((10, 64), np.float32))
        named = f"{video_id}_vggish.npy"
    elif corruption == "garbage":
        (folder / f"{video_id}_rgb.npy").write_bytes(b"this is not a numpy file")
        named = f"{video_id}_rgb.npy"
    elif corruption == "truncated":
        path = folder / f"{video_id}_rgb.npy"
        path.write_bytes(path.read_bytes()[:1000])
        named = f"{video_id}_rgb.npy"
    else:
        array = np.load(folder / f"{video_id}_vggish.npy")
        array[3, 5] = np.nan
        np.save(folder / f"{video_id}_vggish.npy", array)
        named = f"{video_id}_vggish.npy"
    with pytest.raises(error_type, match=message) as error:
        prepare_unav100(root, cache_dir=str(tmp_path / "cache"))
    assert named in str(error.value)


def test_edited_release_rebuilds_instead_of_reusing_the_cache(tmp_path, caplog):
    root = small_release(tmp_path, count=3)
    cache = str(tmp_path / "cache")
    annotation_path = root / "annotations" / "unav100_annotations.json"
    content = json.loads(annotation_path.read_text())
    video_id, video = next(iter(content["database"].items()))
    prepare_unav100(root, cache_dir=cache)

    # an edited annotation comes back edited
    video["annotations"][0]["segment"] = [0.5, 1.5]
    annotation_path.write_text(json.dumps(content))
    with caplog.at_level(logging.INFO, logger="transformers.loco_hf.data.unav100"):
        edited = prepare_unav100(root, cache_dir=cache)
    row = next(r for split in edited.values() for r in split if r["video_id"] == video_id)
    assert row["segments"][0] == [0.5, 1.5]
    assert "Building the UnAV-100 Arrow cache" in caplog.text

    # an unchanged release reuses its cache, and says so
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="transformers.loco_hf.data.unav100"):
        again = prepare_unav100(root, cache_dir=cache)
    assert "Reusing the UnAV-100 Arrow cache" in caplog.text
    assert again["train"].cache_files == edited["train"].cache_files

    # a replaced feature file is read again (here: refused, as garbage)
    (root / "av_features" / f"{video_id}_rgb.npy").write_bytes(b"not a numpy file any more")
    with pytest.raises(ValueError, match="Cannot read") as error:
        prepare_unav100(root, cache_dir=cache)
    assert f"{video_id}_rgb.npy" in str(error.value)


@pytest.mark.parametrize(
    ("feature_dtype", "array"),
    [
        ("float32", np.full((29, 128), 1e300, dtype=np.float64)),
        ("float16", np.full((29, 128), 7e4, dtype=np.float32)),
    ],
)
def test_values_that_overflow_the_stored_dtype_are_refused(tmp_path, feature_dtype, array):
    database = {"short": {"duration": 10.0, "subset": "train", "annotations": []}}
    database["short"]["annotations"] = [
        {"segment": [1.0, 4.0], "label": UNAV100_CLASS_NAMES[3], "label_id": 3}
    ]
    root = write_release(tmp_path / "release", database)
    np.save(root / "av_features" / "short_vggish.npy", array)
    with pytest.raises(ValueError, match=f"too large for {feature_dtype}") as error:
        prepare_unav100(root, cache_dir=str(tmp_path / "cache"), feature_dtype=feature_dtype)
    assert "short_vggish.npy" in str(error.value)


# ------------------------------------------------------------------------------------------------------------
# Parquet export and load_event_dataset
# ------------------------------------------------------------------------------------------------------------


def assert_same_dataset(first: datasets.DatasetDict, second: datasets.DatasetDict):
    assert set(first) == set(second)
    for split in first:
        assert first[split].features == second[split].features
        assert first[split].num_rows == second[split].num_rows
        for row_a, row_b in zip(
            first[split].with_format("numpy"), second[split].with_format("numpy"), strict=True
        ):
            for name, value in row_a.items():
                np.testing.assert_array_equal(value, row_b[name], err_msg=f"{split} {name}")


def test_export_to_parquet_round_trip(prepared, tmp_path):
    # a shard size below the train split's size, so that it is sharded whichever annotations the release has
    train_bytes = prepared["train"].data.nbytes
    written = export_to_parquet(prepared, tmp_path / "parquet", max_shard_size=max(1, train_bytes // 2 - 1))
    names = sorted(path.name for path in written)
    assert all(re.fullmatch(r"(train|validation|test)-\d{5}-of-\d{5}\.parquet", name) for name in names), (
        names
    )
    assert all(path.parent == tmp_path / "parquet" / "data" for path in written)
    assert sum(n.startswith("train-") for n in names) > 1

    data_files = {
        split: sorted(str(p) for p in written if p.name.startswith(f"{split}-")) for split in prepared
    }
    reloaded = datasets.load_dataset("parquet", data_files=data_files)
    assert_same_dataset(prepared, reloaded)
    assert reloaded["train"].features["labels"].feature.names == UNAV100_CLASS_NAMES

    assert_same_dataset(prepared, load_event_dataset(tmp_path / "parquet"))
    with pytest.raises(FileExistsError, match="already lists configuration 'default'"):
        export_to_parquet(prepared, tmp_path / "parquet")


def test_load_event_dataset_sources(prepared, release, tmp_path):
    assert_same_dataset(prepared, load_event_dataset(release, cache_dir=str(tmp_path / "cache")))
    prepared.save_to_disk(str(tmp_path / "saved"))
    assert_same_dataset(prepared, load_event_dataset(tmp_path / "saved"))
    with pytest.raises(FileNotFoundError, match="No dataset folder"):
        load_event_dataset(tmp_path / "absent")
    prepared["train"].save_to_disk(str(tmp_path / "single"))
    with pytest.raises(ValueError, match="single saved Dataset"):
        load_event_dataset(tmp_path / "single")
    datasets.DatasetDict({"train": prepared["train"].remove_columns(["fps"])}).save_to_disk(
        str(tmp_path / "partial")
    )
    with pytest.raises(ValueError, match="fps"):
        load_event_dataset(tmp_path / "partial")


def test_two_configurations_share_one_folder_with_a_card(prepared, tmp_path):
    onepeace_root = write_release(
        tmp_path / "onepeace_release",
        dict(list(slice_database().items())[:4]),
        streams={"one_peace_video_finetune": 1536, "one_peace_audio": 1536},
    )
    onepeace = prepare_unav100(onepeace_root, config_name="onepeace", cache_dir=str(tmp_path / "cache"))
    folder = tmp_path / "hub_folder"
    # a shard size far below one row: a split gets at most one shard per row
    written = export_to_parquet(prepared, folder, max_shard_size="10KB", config_name="i3d-vggish")
    assert sum(path.name.startswith("validation-") for path in written) == prepared["validation"].num_rows
    export_to_parquet(onepeace, folder, max_shard_size="500MiB", config_name="onepeace")
    assert {path.name for path in (folder / "onepeace").iterdir()} == {
        f"{split}-00000-of-00001.parquet" for split in onepeace
    }

    assert_same_dataset(prepared, datasets.load_dataset(str(folder), "i3d-vggish"))
    assert_same_dataset(onepeace, datasets.load_dataset(str(folder), "onepeace"))
    assert_same_dataset(onepeace, load_event_dataset(folder, name="onepeace"))

    card = huggingface_hub.DatasetCard.load(folder / "README.md")
    assert [config["config_name"] for config in card.data.configs] == ["i3d-vggish", "onepeace"]
    for name, text in (("i3d-vggish", "I3D"), ("onepeace", "ONE-PEACE")):
        assert f"### Configuration `{name}`" in card.text
        assert text in card.text
    assert "geng2023dense" in card.text and "## Licence" in card.text
    assert f"validation {prepared['validation'].num_rows}" in card.text


@pytest.mark.parametrize("size", ["lots", "-5MB", 0])
def test_export_refuses_an_unreadable_shard_size(prepared, tmp_path, size):
    with pytest.raises(ValueError, match="max_shard_size"):
        export_to_parquet(prepared, tmp_path / "out", max_shard_size=size)


UPLOAD_AND_LOAD = """
import json, sys
import datasets, huggingface_hub

folder, repo_id = sys.argv[1], "team/unav100-features"
api = huggingface_hub.HfApi()
api.create_repo(repo_id, repo_type="dataset")
api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=folder)
loaded = {name: datasets.load_dataset(repo_id, name) for name in ("i3d-vggish", "onepeace")}
print(json.dumps({
    name: {split: [list(d["video_id"]), d.features["visual_features"].shape[1]] for split, d in dataset.items()}
    for name, dataset in loaded.items()
}))
"""


def test_exported_folder_serves_both_configurations_from_the_hub(prepared, tmp_path):
    """The card's YAML is what the Hub reads: one repository, one configuration per name."""
    onepeace_root = write_release(
        tmp_path / "onepeace_release",
        dict(list(slice_database().items())[:5]),
        streams={"one_peace_video_finetune": 1536, "one_peace_audio": 1536},
    )
    onepeace = prepare_unav100(onepeace_root, config_name="onepeace", cache_dir=str(tmp_path / "cache"))
    export_to_parquet(prepared, tmp_path / "folder", config_name="i3d-vggish")
    export_to_parquet(onepeace, tmp_path / "folder", config_name="onepeace")
    server, url = serve()
    try:
        result = subprocess.run(
            [sys.executable, "-c", UPLOAD_AND_LOAD, str(tmp_path / "folder")],
            env={**hub_environment(url, tmp_path / "hf_home"), "OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE, text=True, timeout=300,
        )  # fmt: skip
    finally:
        stop(server)
    assert result.returncode == 0, "the client failed: its traceback is in the captured stderr"
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    for name, dataset, dim in (("i3d-vggish", prepared, 2048), ("onepeace", onepeace, 1536)):
        assert loaded[name] == {split: [list(d["video_id"]), dim] for split, d in dataset.items()}
