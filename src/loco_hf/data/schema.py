# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""The event-dataset schema shared by the UnAV-100 builder and the synthetic data, its loader and its export.

An event dataset is a `datasets.DatasetDict` of train / validation / test splits whose rows follow
`event_dataset_features`. `load_event_dataset` finds one wherever it lives (a UnAV-100 release, a saved or Parquet
folder, the Hub); `export_to_parquet` writes one as Parquet shards with a dataset card whose YAML `configs:` let
`datasets.load_dataset(folder, config_name)` and the Hub read every configuration back.
"""

import math
import os
import re
from pathlib import Path

import datasets
import huggingface_hub
from datasets.info import DatasetInfosDict
from datasets.utils.metadata import MetadataConfigs
from datasets.utils.py_utils import convert_file_size_to_int
from transformers.utils import logging

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")

__all__ = [
    "EVENT_DATASET_COLUMNS",
    "SPLITS",
    "check_event_dataset",
    "event_dataset_features",
    "export_to_parquet",
    "load_event_dataset",
]

SPLITS = ("train", "validation", "test")
EVENT_DATASET_COLUMNS = (
    "video_id", "duration", "fps", "feature_stride", "feature_window", "visual_features", "audio_features",
    "segments", "labels",
)  # fmt: skip
# Rows per Arrow record batch and per Parquet row group: a UnAV-100 video is about 1.6 MB in float32.
ROWS_PER_BATCH = 64
# The dataset card body holds one section per configuration, between these markers, so that exporting a second
# configuration into the same folder adds its section and keeps the others.
_CARD_SECTION = re.compile(r"<!-- config: (?P<name>[^ ]+) -->\n(?P<text>.*?)<!-- end config -->\n", re.DOTALL)


def event_dataset_features(
    visual_dim: int, audio_dim: int, class_names: list[str], feature_dtype: str = "float32"
) -> datasets.Features:
    """
    The row schema shared by the UnAV-100 builder and the synthetic data.

    Args:
        visual_dim (`int`), audio_dim (`int`): channels of the two feature streams.
        class_names (`list[str]`): names of the classes, in label-id order.
        feature_dtype (`str`): "float32" or "float16" storage of the features.

    Returns:
        `datasets.Features`: video_id (string), duration (float32, seconds), fps (float32), feature_stride and
        feature_window (int32, frames), visual_features `Array2D((None, visual_dim))`, audio_features
        `Array2D((None, audio_dim))`, segments (list of [start, end] float32 seconds), labels (list of
        `ClassLabel`).
    """
    if feature_dtype not in ("float32", "float16"):
        raise ValueError(f"feature_dtype must be 'float32' or 'float16', got {feature_dtype!r}.")
    return datasets.Features(
        {
            "video_id": datasets.Value("string"),
            "duration": datasets.Value("float32"),
            "fps": datasets.Value("float32"),
            "feature_stride": datasets.Value("int32"),
            "feature_window": datasets.Value("int32"),
            "visual_features": datasets.Array2D(shape=(None, visual_dim), dtype=feature_dtype),
            "audio_features": datasets.Array2D(shape=(None, audio_dim), dtype=feature_dtype),
            "segments": datasets.List(datasets.List(datasets.Value("float32"), length=2)),
            "labels": datasets.List(datasets.ClassLabel(names=list(class_names))),
        }
    )


def check_event_dataset(dataset_dict: datasets.DatasetDict) -> datasets.DatasetDict:
    """
    Checks that every split has the event-dataset columns (see `event_dataset_features`).

    Returns:
        the same `DatasetDict`.

    Raises:
        ValueError: not a `DatasetDict`, a missing column, or labels that are not a list of `ClassLabel`.
    """
    if not isinstance(dataset_dict, datasets.DatasetDict):
        raise ValueError(f"Expected a datasets.DatasetDict of splits, got {type(dataset_dict).__name__}.")
    for split, dataset in dataset_dict.items():
        missing = [name for name in EVENT_DATASET_COLUMNS if name not in dataset.column_names]
        if missing:
            raise ValueError(f"Split {split!r} lacks the columns {missing} (has {dataset.column_names}).")
        labels = dataset.features["labels"]
        if not isinstance(getattr(labels, "feature", None), datasets.ClassLabel):
            raise ValueError(f"Split {split!r}: 'labels' must be a list of ClassLabel, got {labels}.")
    return dataset_dict


def load_event_dataset(path_or_id: str | os.PathLike, **kwargs) -> datasets.DatasetDict:
    """
    Loads an event dataset from wherever it lives (the training script's `--dataset_dir`).

    Args:
        path_or_id (`str` or `os.PathLike`): one of
            - a UnAV-100 release root (holding `annotations/unav100_annotations.json`): built with
              `prepare_unav100(path, **kwargs)`;
            - a folder written by `DatasetDict.save_to_disk`: `datasets.load_from_disk`;
            - a folder of Parquet shards (e.g. from `export_to_parquet`): `datasets.load_dataset(path, **kwargs)`
              (pass the configuration name as `name=` when the folder holds several);
            - a Hub dataset id ("user/name"): `datasets.load_dataset(path_or_id, **kwargs)`.
        **kwargs: passed to `prepare_unav100` or `datasets.load_dataset`.

    Returns:
        `datasets.DatasetDict` checked by `check_event_dataset`.
    """
    # The UnAV-100 builder is itself built on this module's schema, so it is imported where it is needed.
    from .unav100 import ANNOTATION_FILE, prepare_unav100

    path = Path(path_or_id).expanduser()
    if path.is_dir():
        if (path / ANNOTATION_FILE).is_file():
            dataset = prepare_unav100(path, **kwargs)
        elif (path / "dataset_dict.json").is_file():
            dataset = datasets.load_from_disk(str(path))
        elif (path / "state.json").is_file():
            raise ValueError(
                f"{path} holds a single saved Dataset; save a DatasetDict with train/validation/test splits."
            )
        else:
            dataset = datasets.load_dataset(str(path), **kwargs)
    elif path.exists():
        raise ValueError(
            f"{path} is a file; expected a UnAV-100 release root, a saved or Parquet dataset folder, or a Hub id."
        )
    elif path.is_absolute() or str(path_or_id).startswith((".", "~")):
        raise FileNotFoundError(f"No dataset folder at {path}.")
    else:
        dataset = datasets.load_dataset(str(path_or_id), **kwargs)
    return check_event_dataset(dataset)


def _shard_size_bytes(max_shard_size: int | str) -> int:
    """Bytes in `max_shard_size` as `datasets` reads it ("500MB", "500MiB", "10KB" or an int)."""
    try:
        size = convert_file_size_to_int(max_shard_size)
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(
            f"max_shard_size must be an int (bytes) or a size such as '500MB' or '500MiB', got {max_shard_size!r}."
        ) from error
    if size <= 0:
        raise ValueError(f"max_shard_size must be positive, got {max_shard_size!r}.")
    return size


def _config_section(config_name: str, dataset_dict: datasets.DatasetDict) -> str:
    """The card section of one configuration: its description, feature grid, dims, classes and split sizes."""
    first = next(iter(dataset_dict.values()))
    info, features = first.info, first.features
    class_names = features["labels"].feature.names
    grid = "the time grid of each row (`fps`, `feature_stride`, `feature_window`)"
    if first.num_rows:
        row = first.select_columns(["fps", "feature_stride", "feature_window"])[0]
        grid = (
            f"{row['fps']:g} fps, stride {row['feature_stride']} frames, window {row['feature_window']} frames "
            f"({row['feature_stride'] / row['fps']:g} s per step)"
        )
    splits = ", ".join(f"{split} {dataset.num_rows:,}" for split, dataset in dataset_dict.items())
    lines = [
        f"### Configuration `{config_name}`",
        "",
        *([info.description.strip(), ""] if info.description else []),
        f"- visual features: `{features['visual_features'].shape[1]}` channels, "
        f"audio features: `{features['audio_features'].shape[1]}` channels, stored as "
        f"{features['visual_features'].dtype}",
        f"- feature grid: {grid}",
        f"- {len(class_names)} classes: {', '.join(class_names[:5])}{', ...' if len(class_names) > 5 else ''}",
        f"- videos per split: {splits}",
        f'- load: `datasets.load_dataset("<repo or folder>", "{config_name}")`',
    ]
    return "\n".join(lines) + "\n"


def _card_text(card_data: huggingface_hub.DatasetCardData, sections: dict[str, str], info) -> str:
    """The README: YAML header, what the rows hold, one section per configuration, source, licence, citation."""
    body = [
        "# Dense audio-visual event localization features",
        "",
        "Pre-extracted per-step visual and audio features of untrimmed videos with their audio-visual events, in "
        "the schema of `loco_hf.data.event_dataset_features`: `video_id`, `duration` (s), `fps`, "
        "`feature_stride`, `feature_window` (frames), `visual_features` `(T, visual_dim)`, `audio_features` "
        "`(T, audio_dim)`, `segments` `(k, 2)` (start and end in seconds) and `labels` (`ClassLabel` ids). Step "
        "`t` covers frames `[t * feature_stride, t * feature_stride + feature_window)`.",
        "",
        "## Configurations",
        "",
        *(f"<!-- config: {name} -->\n{text}<!-- end config -->\n" for name, text in sorted(sections.items())),
    ]
    if info.homepage:
        body += ["## Source", "", f"Homepage: {info.homepage}", ""]
    body += [
        "## Licence",
        "",
        info.license or "Not stated by the data set's authors; check before redistributing.",
        "",
    ]
    if info.citation:
        body += ["## Citation", "", "```bibtex", info.citation.strip(), "```", ""]
    return f"---\n{card_data.to_yaml()}\n---\n\n" + "\n".join(body)


def export_to_parquet(
    dataset_dict: datasets.DatasetDict,
    output_dir: str | os.PathLike,
    max_shard_size: int | str = "500MB",
    config_name: str = "default",
) -> list[Path]:
    """
    Writes a dataset as Parquet shards in the Hub's layout, with a dataset card (README.md).

    The shards go to `<config_name>/<split>-0000i-of-0000N.parquet` (`data/` for the "default" configuration),
    as `DatasetDict.push_to_hub(config_name=...)` lays them out, so several configurations (UnAV-100's
    "i3d-vggish" and "onepeace") share one folder and one Hub repository. The card's YAML lists each
    configuration's data files and features (`configs:` and `dataset_info:`, written with `datasets`' own
    metadata classes), so `datasets.load_dataset(output_dir, config_name)` loads it offline with its Array2D
    shapes and class names; its text describes every configuration (dims, grid, classes, split sizes, how the
    features were made) with the licence and citation of the dataset's `info`. Publish the folder with
    `huggingface_hub.HfApi().upload_folder(repo_id=..., folder_path=output_dir, repo_type="dataset")`.

    Args:
        dataset_dict (`datasets.DatasetDict`): the splits to write.
        output_dir (`str` or `os.PathLike`): created if needed; it must not hold this configuration yet.
        max_shard_size (`int` or `str`, default "500MB"): largest shard, in bytes of Arrow data ("500MB",
            "500MiB", ... as `datasets` reads them); a split never has more shards than rows.
        config_name (`str`, default "default"): the configuration's name in the card.

    Returns:
        `list[pathlib.Path]`: the Parquet files written (the README is written or updated beside them).
    """
    if not isinstance(dataset_dict, datasets.DatasetDict):
        raise ValueError(
            f"export_to_parquet needs a datasets.DatasetDict, got {type(dataset_dict).__name__}."
        )
    if not re.fullmatch(r"[\w.-]+", config_name):
        raise ValueError(f"config_name must be letters, digits, '_', '-' or '.', got {config_name!r}.")
    max_bytes = _shard_size_bytes(max_shard_size)
    output_dir = Path(output_dir)
    readme = output_dir / "README.md"
    card = huggingface_hub.DatasetCard.load(readme) if readme.is_file() else None
    card_data = card.data if card else huggingface_hub.DatasetCardData()
    if config_name in MetadataConfigs.from_dataset_card_data(card_data):
        raise FileExistsError(
            f"{readme} already lists configuration {config_name!r}; use another folder or name."
        )
    data_folder = "data" if config_name == "default" else config_name
    shard_dir = output_dir / data_folder
    shard_dir.mkdir(parents=True, exist_ok=True)
    for split in dataset_dict:
        existing = sorted(shard_dir.glob(f"{split}-*.parquet"))
        if existing:
            raise FileExistsError(
                f"{shard_dir} already holds shards of split {split!r} ({existing[0].name}, ...); use an empty folder."
            )
    written = []
    for split, dataset in dataset_dict.items():
        num_shards = max(1, min(dataset.num_rows, math.ceil(dataset.data.nbytes / max_bytes)))
        for index in range(num_shards):
            path = shard_dir / f"{split}-{index:05d}-of-{num_shards:05d}.parquet"
            dataset.shard(num_shards, index, contiguous=True).to_parquet(str(path), batch_size=ROWS_PER_BATCH)
            written.append(path)

    first = next(iter(dataset_dict.values()))
    MetadataConfigs(
        {config_name: {"data_files": [{"split": s, "path": f"{data_folder}/{s}-*"} for s in dataset_dict]}}
    ).to_dataset_card_data(card_data)
    info = datasets.DatasetInfo(
        features=first.features,
        splits=datasets.SplitDict(
            {
                split: datasets.SplitInfo(name=split, num_examples=d.num_rows)
                for split, d in dataset_dict.items()
            }
        ),
        dataset_size=sum(d.data.nbytes for d in dataset_dict.values()),
    )
    DatasetInfosDict({config_name: info}).to_dataset_card_data(card_data)
    sections = {m["name"]: m["text"] for m in _CARD_SECTION.finditer(card.text)} if card else {}
    sections[config_name] = _config_section(config_name, dataset_dict)
    readme.write_text(_card_text(card_data, sections, first.info), encoding="utf-8")
    logger.info(
        "Wrote configuration %r of %s: %d Parquet shards and the card.", config_name, output_dir, len(written)
    )
    return written
