"""Tests of the UnAV-100 builder (loco_hf.data.unav100) on the real annotation file and generated feature files."""

import json
import logging
import math
import re
from pathlib import Path

import datasets
import numpy as np
import pytest

from loco_hf.configuration_loco import UNAV100_CLASS_NAMES
from loco_hf.data.unav100 import (
    UnAV100Builder,
    export_to_parquet,
    load_event_dataset,
    load_unav100_annotations,
    prepare_unav100,
)

REAL_ANNOTATIONS = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "unav100" / "unav100_annotations.json"
)

# A stand-in for the real file when it is absent: the error tests still run on it.
FALLBACK_DATABASE = {
    f"video{i:02d}": {
        "duration": 10.0 + 1.5 * i,
        "subset": ("train", "train", "train", "validation", "test")[i % 5],
        "annotations": [
            {"segment": [0.0, 4.0 + 0.1 * i], "label": UNAV100_CLASS_NAMES[i % 7], "label_id": i % 7},
            {"segment": [2.5, 9.0], "label": UNAV100_CLASS_NAMES[12], "label_id": 12},
        ],
    }
    for i in range(10)
}


def expected_steps(duration: float, fps: float = 25.0, stride: int = 8, window: int = 24) -> int:
    """T = floor((fps * duration - window) / stride) + 1, the reference's feature length."""
    return max(math.floor((fps * duration - window) / stride) + 1, 1)


def subset_database(num_train=24, num_validation=8, num_test=8) -> dict:
    """About 40 real videos (the first of each split), or the fallback database."""
    if not REAL_ANNOTATIONS.exists():
        return FALLBACK_DATABASE
    database = json.loads(REAL_ANNOTATIONS.read_text())["database"]
    wanted = {"train": num_train, "validation": num_validation, "test": num_test}
    chosen = {}
    for video_id, video in database.items():
        if wanted[video["subset"]] > 0:
            chosen[video_id] = video
            wanted[video["subset"]] -= 1
    return chosen


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
    return write_release(tmp_path_factory.mktemp("unav100_release"), subset_database())


@pytest.fixture(scope="module")
def prepared(release, tmp_path_factory) -> datasets.DatasetDict:
    return prepare_unav100(release, cache_dir=str(tmp_path_factory.mktemp("cache")))


def small_release(tmp_path: Path, count: int = 5) -> Path:
    database = dict(list(subset_database().items())[:count])
    return write_release(tmp_path / "release", database)


# ------------------------------------------------------------------------------------------------------------
# Annotations
# ------------------------------------------------------------------------------------------------------------


def test_real_annotation_file_parses():
    if not REAL_ANNOTATIONS.exists():
        pytest.skip("the real UnAV-100 annotation file is not available")
    videos = load_unav100_annotations(REAL_ANNOTATIONS)
    assert len(videos) == 10790
    assert sum(len(video["labels"]) for video in videos.values()) == 30059
    assert len({label for video in videos.values() for label in video["labels"]}) == 100
    sizes = {
        split: sum(video["subset"] == split for video in videos.values())
        for split in ("train", "validation", "test")
    }
    assert sizes == {"train": 6489, "validation": 2134, "test": 2167}
    video = next(iter(videos.values()))
    assert set(video) == {"duration", "subset", "segments", "labels"}


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
    database = json.loads(json.dumps(dict(list(FALLBACK_DATABASE.items())[:2])))
    change(database["video01"])
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps({"database": database}))
    with pytest.raises(ValueError, match=message) as error:
        load_unav100_annotations(path)
    assert "video01" in str(error.value)


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
    database = dict(list(subset_database().items())[:3])
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

    with caplog.at_level(logging.WARNING, logger="loco_hf.data.unav100"):
        dataset = prepare_unav100(root, cache_dir=str(tmp_path / "cache"), skip_missing_videos=True)
    warnings = [
        r for r in caplog.records if r.name == "loco_hf.data.unav100" and r.levelno == logging.WARNING
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
    with pytest.raises(FileExistsError, match="already holds"):
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
