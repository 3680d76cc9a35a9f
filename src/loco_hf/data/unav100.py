# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""A `datasets` builder for the official UnAV-100 feature release (Geng et al., CVPR 2023).

`datasets` no longer runs loading scripts (removed in 4.0), so the builder is a `GeneratorBasedBuilder` class in the
package, used directly or through `prepare_unav100`; `export_to_parquet` writes a prepared dataset as Parquet
shards that `load_dataset("parquet", ...)`, `load_dataset(folder)` and the Hub read back with their features.

Release layout (the data_dir):

    annotations/unav100_annotations.json
    av_features/<video_id>_rgb.npy     (T, 1024)  I3D RGB        } config "i3d-vggish" (default):
    av_features/<video_id>_flow.npy    (T, 1024)  I3D flow       }   visual = rgb ++ flow (2048), audio 128,
    av_features/<video_id>_vggish.npy  (T, 128)   VGGish         }   25 fps, stride 8, window 24 frames
    av_features/<video_id>_one_peace_video_finetune.npy (T, 1536) } config "onepeace": 1536 + 1536,
    av_features/<video_id>_one_peace_audio.npy          (T, 1536) }   16 fps, stride 4, window 16 frames

As in the UnAV reference loader, the visual and audio streams are truncated to their common length; nothing is
resampled.
"""

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from ..configuration_loco import UNAV100_CLASS_NAMES

logger = logging.getLogger(__name__)

__all__ = [
    "ANNOTATION_FILE",
    "EVENT_DATASET_COLUMNS",
    "FEATURE_FOLDER",
    "UnAV100Builder",
    "UnAV100Config",
    "check_event_dataset",
    "event_dataset_features",
    "export_to_parquet",
    "load_event_dataset",
    "load_unav100_annotations",
    "prepare_unav100",
]

ANNOTATION_FILE = "annotations/unav100_annotations.json"
FEATURE_FOLDER = "av_features"
SPLITS = ("train", "validation", "test")
EVENT_DATASET_COLUMNS = (
    "video_id", "duration", "fps", "feature_stride", "feature_window", "visual_features", "audio_features",
    "segments", "labels",
)  # fmt: skip
# A segment may end this far (seconds) past the video duration, for rounding in the annotation files.
_DURATION_TOLERANCE_SECONDS = 1e-3
# Rows per Arrow record batch and per Parquet row group: a UnAV-100 video is about 1.6 MB in float32.
_ROWS_PER_BATCH = 64
# Videos named in an error message about missing files.
_NAMED_VIDEOS = 5


def _read_npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of a .npy file from its header, checking that the file holds all the data it announces."""
    try:
        with path.open("rb") as file:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(file)
            else:
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(file)
            data_offset = file.tell()
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"Cannot read feature file {path} (corrupt or not a .npy array): {error}") from error
    expected_size = data_offset + math.prod(shape) * dtype.itemsize
    if path.stat().st_size < expected_size:
        raise ValueError(
            f"Feature file {path} is truncated: its header announces {shape} {dtype} ({expected_size} bytes) but the "
            f"file has {path.stat().st_size} bytes."
        )
    return shape, dtype


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


def load_unav100_annotations(path: str | os.PathLike) -> dict[str, dict]:
    """
    Reads and checks a UnAV-100 annotation file.

    Args:
        path (`str` or `os.PathLike`): `unav100_annotations.json` (`{"database": {video_id: {"duration",
            "subset", "annotations": [{"segment": [start, end], "label", "label_id"}]}}}`; times in seconds).

    Returns:
        `dict`: video id to `{"duration": float (s), "subset": "train" | "validation" | "test", "segments":
        list of [start, end] (s), "labels": list of int (indices into `UNAV100_CLASS_NAMES`)}`, in file order.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not JSON of that form; a video's duration, subset, segment or label is invalid
            (the message names the video), or a label name does not match its id.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"UnAV-100 annotation file not found: {path}.")
    try:
        with path.open(encoding="utf-8") as file:
            content = json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"Cannot parse the UnAV-100 annotation file {path}: {error}") from error
    database = content.get("database", content) if isinstance(content, dict) else None
    if not isinstance(database, dict) or not database:
        raise ValueError(
            f"{path} holds no 'database' of videos (expected {{'database': {{video_id: {{...}}}}}})."
        )

    videos = {}
    for video_id, video in database.items():
        if not isinstance(video, dict) or not {"duration", "subset", "annotations"} <= video.keys():
            raise ValueError(
                f"Video {video_id!r} in {path} needs the keys 'duration', 'subset' and 'annotations'."
            )
        duration = video["duration"]
        if not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration <= 0:
            raise ValueError(f"Video {video_id!r} in {path} has an invalid duration {duration!r}.")
        subset = str(video["subset"]).lower()
        if subset not in SPLITS:
            raise ValueError(
                f"Video {video_id!r} in {path} has subset {video['subset']!r}; expected one of {SPLITS}."
            )
        segments, labels = [], []
        for annotation in video["annotations"]:
            segment, label_id, label = (
                annotation.get("segment"),
                annotation.get("label_id"),
                annotation.get("label"),
            )
            if not isinstance(segment, (list, tuple)) or len(segment) != 2:
                raise ValueError(
                    f"Video {video_id!r} in {path} has a segment that is not [start, end]: {segment!r}."
                )
            start, end = float(segment[0]), float(segment[1])
            if not 0 <= start < end <= duration + _DURATION_TOLERANCE_SECONDS:
                raise ValueError(
                    f"Video {video_id!r} in {path} has segment {list(segment)} outside 0 <= start < end <= duration "
                    f"({duration} s)."
                )
            if not isinstance(label_id, int) or not 0 <= label_id < len(UNAV100_CLASS_NAMES):
                raise ValueError(
                    f"Video {video_id!r} in {path} has label_id {label_id!r}; expected 0..{len(UNAV100_CLASS_NAMES) - 1}."
                )
            if label is not None and label != UNAV100_CLASS_NAMES[label_id]:
                raise ValueError(
                    f"Video {video_id!r} in {path}: label {label!r} does not match label_id {label_id} "
                    f"({UNAV100_CLASS_NAMES[label_id]!r} in UNAV100_CLASS_NAMES)."
                )
            segments.append([start, min(end, float(duration))])
            labels.append(label_id)
        videos[str(video_id)] = {
            "duration": float(duration),
            "subset": subset,
            "segments": segments,
            "labels": labels,
        }
    return videos


@dataclass
class UnAV100Config(datasets.BuilderConfig):
    r"""
    A feature set of the UnAV-100 release.

    Args:
        visual_streams (`tuple[str, ...]`): file suffixes of the visual streams, concatenated along channels in this
            order (`<video_id>_<suffix>.npy`).
        visual_stream_dims (`tuple[int, ...]`): channels of each visual stream.
        audio_stream (`str`), audio_dim (`int`): file suffix and channels of the audio stream.
        fps (`float`), feature_stride (`int`), feature_window (`int`): the feature grid (frames per second, frames
            per step, frames per feature); one step is `feature_stride / fps` seconds.
        feature_dtype (`str`, default "float32"): "float32" or "float16" storage ("float16" halves the ~19 GB of
            I3D/VGGish features).
        skip_missing_videos (`bool`, default False): build without the videos whose feature files are missing
            (one warning gives their count) instead of raising FileNotFoundError.
    """

    visual_streams: tuple[str, ...] = ("rgb", "flow")
    visual_stream_dims: tuple[int, ...] = (1024, 1024)
    audio_stream: str = "vggish"
    audio_dim: int = 128
    fps: float = 25.0
    feature_stride: int = 8
    feature_window: int = 24
    feature_dtype: str = "float32"
    skip_missing_videos: bool = False

    @property
    def visual_dim(self) -> int:
        """Channels of the concatenated visual streams."""
        return sum(self.visual_stream_dims)

    @property
    def stream_suffixes(self) -> tuple[str, ...]:
        """Every file suffix a video needs."""
        return (*self.visual_streams, self.audio_stream)


class UnAV100Builder(datasets.GeneratorBasedBuilder):
    r"""
    Builds the UnAV-100 dataset (train / validation / test, from each video's `subset`) from a local release.

    Rows follow `event_dataset_features`; labels are `ClassLabel(names=UNAV100_CLASS_NAMES)`. Nothing is
    downloaded: `data_dir` is the release root holding `annotations/unav100_annotations.json` and `av_features/`.

    Example:
        ```python
        builder = UnAV100Builder(data_dir="unav100", config_name="i3d-vggish", feature_dtype="float16")
        builder.download_and_prepare()
        dataset = builder.as_dataset()  # DatasetDict
        ```

    Raises (from `download_and_prepare`, before anything is written; every feature file header is read first):
        ValueError: no data_dir, an invalid config value, an invalid annotation (see `load_unav100_annotations`),
            a feature file that cannot be read, is truncated or has the wrong shape (the message names the file),
            or visual streams of different lengths (names the video).
        FileNotFoundError: no annotation file or feature folder, or videos without feature files (names the
            first ones and the count) unless `skip_missing_videos=True`.
        A file holding NaN or infinite values is found while generating: `datasets` wraps that ValueError in its
        `DatasetGenerationError` (`prepare_unav100` unwraps it).
    """

    BUILDER_CONFIG_CLASS = UnAV100Config
    BUILDER_CONFIGS = [
        UnAV100Config(
            name="i3d-vggish",
            version=datasets.Version("1.0.0"),
            description="I3D rgb + flow (2048) and VGGish (128) features on a 0.32 s grid (25 fps, stride 8, window 24).",
        ),
        UnAV100Config(
            name="onepeace",
            version=datasets.Version("1.0.0"),
            description="ONE-PEACE video (1536) and audio (1536) features on a 0.25 s grid (16 fps, stride 4, window 16).",
            visual_streams=("one_peace_video_finetune",),
            visual_stream_dims=(1536,),
            audio_stream="one_peace_audio",
            audio_dim=1536,
            fps=16.0,
            feature_stride=4,
            feature_window=16,
        ),
    ]
    DEFAULT_CONFIG_NAME = "i3d-vggish"
    DEFAULT_WRITER_BATCH_SIZE = _ROWS_PER_BATCH

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description="UnAV-100 dense audio-visual event localization (Geng et al., CVPR 2023), pre-extracted features.",
            features=event_dataset_features(
                self.config.visual_dim, self.config.audio_dim, UNAV100_CLASS_NAMES, self.config.feature_dtype
            ),
            homepage="https://unav100.github.io/",
        )

    def _check_config(self):
        config = self.config
        if config.feature_dtype not in ("float32", "float16"):
            raise ValueError(
                f"UnAV100Config.feature_dtype must be 'float32' or 'float16', got {config.feature_dtype!r}."
            )
        if len(config.visual_streams) != len(config.visual_stream_dims) or not config.visual_streams:
            raise ValueError(
                f"UnAV100Config.visual_streams {config.visual_streams} and visual_stream_dims "
                f"{config.visual_stream_dims} must be non-empty and of the same length."
            )
        for name in ("audio_dim", "feature_stride", "feature_window"):
            if getattr(config, name) <= 0:
                raise ValueError(f"UnAV100Config.{name} must be positive, got {getattr(config, name)}.")
        if not config.fps > 0:
            raise ValueError(f"UnAV100Config.fps must be > 0, got {config.fps}.")

    def _split_generators(self, dl_manager) -> list[datasets.SplitGenerator]:
        self._check_config()
        if self.config.data_dir is None:
            raise ValueError(
                f"UnAV100Builder needs data_dir: the release root holding {ANNOTATION_FILE} and {FEATURE_FOLDER}/."
            )
        root = Path(self.config.data_dir).expanduser()
        annotation_path, feature_dir = root / ANNOTATION_FILE, root / FEATURE_FOLDER
        if not annotation_path.is_file():
            raise FileNotFoundError(
                f"UnAV-100 annotation file not found: {annotation_path} (data_dir={root})."
            )
        if not feature_dir.is_dir():
            raise FileNotFoundError(f"UnAV-100 feature folder not found: {feature_dir} (data_dir={root}).")
        videos = load_unav100_annotations(annotation_path)

        present = set(os.listdir(feature_dir))
        missing = [
            video_id
            for video_id in videos
            if any(f"{video_id}_{suffix}.npy" not in present for suffix in self.config.stream_suffixes)
        ]
        if missing:
            first = missing[0]
            absent_files = [
                f"{first}_{s}.npy" for s in self.config.stream_suffixes if f"{first}_{s}.npy" not in present
            ]
            message = (
                f"{len(missing)} of {len(videos)} videos have missing feature files in {feature_dir} for config "
                f"{self.config.name!r} (first: {missing[:_NAMED_VIDEOS]}; {first!r} lacks {absent_files})"
            )
            if not self.config.skip_missing_videos:
                raise FileNotFoundError(f"{message}. Pass skip_missing_videos=True to build without them.")
            logger.warning("%s; skipping them (skip_missing_videos=True).", message)
        missing = set(missing)

        # Every header is read before anything is generated, so that errors come as they are, not wrapped in
        # datasets' DatasetGenerationError, and before minutes of writing.
        for video_id in videos:
            if video_id not in missing:
                self._check_video_files(feature_dir, video_id)

        generators = []
        for split in SPLITS:
            split_videos = {
                vid: video for vid, video in videos.items() if video["subset"] == split and vid not in missing
            }
            if split_videos:
                generators.append(
                    datasets.SplitGenerator(
                        name=split, gen_kwargs={"videos": split_videos, "feature_dir": str(feature_dir)}
                    )
                )
        if not generators:
            raise ValueError(
                f"No UnAV-100 video is left to build from {root} (all {len(videos)} lack feature files)."
            )
        return generators

    def _check_video_files(self, feature_dir: Path, video_id: str):
        """Checks the shapes and types of a video's feature files from their headers (ValueError naming the file)."""
        config = self.config
        expected = {
            **dict(zip(config.visual_streams, config.visual_stream_dims, strict=True)),
            config.audio_stream: config.audio_dim,
        }
        lengths = {}
        for suffix, dim in expected.items():
            path = feature_dir / f"{video_id}_{suffix}.npy"
            shape, dtype = _read_npy_header(path)
            if len(shape) != 2 or shape[1] != dim or shape[0] < 1:
                raise ValueError(
                    f"Feature file {path} has shape {shape}; config {config.name!r} expects (T >= 1, {dim})."
                )
            if not (np.issubdtype(dtype, np.floating) or np.issubdtype(dtype, np.integer)):
                raise ValueError(f"Feature file {path} holds {dtype} values, not numbers.")
            lengths[suffix] = shape[0]
        visual_lengths = {suffix: lengths[suffix] for suffix in config.visual_streams}
        if len(set(visual_lengths.values())) > 1:
            raise ValueError(
                f"Video {video_id!r}: the visual streams have different lengths {visual_lengths} (steps); they come "
                f"from one extraction and must match."
            )

    @staticmethod
    def _load_stream(path: Path) -> np.ndarray:
        """Loads one feature file already checked by `_check_video_files`; ValueError naming it if not finite."""
        array = np.load(path, allow_pickle=False)
        if not np.isfinite(array).all():
            raise ValueError(f"Feature file {path} holds NaN or infinite values.")
        return array

    def _generate_examples(self, videos: dict[str, dict], feature_dir: str):
        config = self.config
        dtype = np.dtype(config.feature_dtype)
        feature_dir = Path(feature_dir)
        truncated, largest_gap, largest_gap_video = 0, 0, None
        for video_id, video in videos.items():
            visual_streams = [
                self._load_stream(feature_dir / f"{video_id}_{suffix}.npy")
                for suffix in config.visual_streams
            ]
            audio = self._load_stream(feature_dir / f"{video_id}_{config.audio_stream}.npy")
            # As the reference loader: truncate both streams to their common length, no resampling.
            length = min(len(visual_streams[0]), len(audio))
            gap = abs(len(visual_streams[0]) - len(audio))
            if gap:
                truncated += 1
                if gap > largest_gap:
                    largest_gap, largest_gap_video = gap, video_id
            visual = np.concatenate([stream[:length] for stream in visual_streams], axis=1)
            yield (
                video_id,
                {
                    "video_id": video_id,
                    "duration": video["duration"],
                    "fps": config.fps,
                    "feature_stride": config.feature_stride,
                    "feature_window": config.feature_window,
                    "visual_features": visual.astype(dtype, copy=False),
                    "audio_features": audio[:length].astype(dtype, copy=False),
                    "segments": np.array(video["segments"], dtype=np.float32).reshape(-1, 2),
                    "labels": video["labels"],
                },
            )
        if truncated:
            logger.info(
                "%d of %d videos had visual and audio streams of different lengths and were truncated to the common "
                "length, as in the reference (largest difference: %d steps, video %r).",
                truncated, len(videos), largest_gap, largest_gap_video,
            )  # fmt: skip


def prepare_unav100(
    data_dir: str | os.PathLike,
    config_name: str = "i3d-vggish",
    cache_dir: str | None = None,
    **config_kwargs,
) -> datasets.DatasetDict:
    """
    Builds (or reuses from the cache) the UnAV-100 dataset of a local release.

    Args:
        data_dir (`str` or `os.PathLike`): the release root (annotations/ and av_features/).
        config_name (`str`, default "i3d-vggish"): "i3d-vggish" or "onepeace".
        cache_dir (`str`, *optional*): where the Arrow files go (the `datasets` cache by default).
        **config_kwargs: `UnAV100Config` fields, e.g. `feature_dtype="float16"`, `skip_missing_videos=True`.

    Returns:
        `datasets.DatasetDict` with the splits present in the annotation file.
    """
    builder = UnAV100Builder(
        config_name=config_name, data_dir=str(data_dir), cache_dir=cache_dir, **config_kwargs
    )
    try:
        builder.download_and_prepare()
    except datasets.exceptions.DatasetGenerationError as error:
        # Our own errors raised while generating (non-finite values) come unwrapped.
        if isinstance(error.__cause__, (ValueError, FileNotFoundError)):
            raise error.__cause__ from None
        raise
    return builder.as_dataset()


def _parse_size(size: int | str) -> int:
    """Bytes in `size`: an int, or a string such as "500MB" (KB, MB, GB: powers of 1000)."""
    if isinstance(size, int):
        return size
    units = {"GB": 10**9, "MB": 10**6, "KB": 10**3, "B": 1}
    text = str(size).strip().upper()
    for unit, factor in units.items():
        if text.endswith(unit):
            try:
                return int(float(text[: -len(unit)]) * factor)
            except ValueError:
                break
    raise ValueError(f"max_shard_size must be an int (bytes) or a string like '500MB', got {size!r}.")


def export_to_parquet(
    dataset_dict: datasets.DatasetDict, output_dir: str | os.PathLike, max_shard_size: int | str = "500MB"
) -> list[Path]:
    """
    Writes a dataset as Parquet shards `data/<split>-00000-of-0000N.parquet`, the Hub's layout.

    The features (Array2D shapes, ClassLabel names) travel in the Parquet schema metadata, so
    `load_dataset("parquet", data_files=...)`, `load_dataset(output_dir)` and `load_event_dataset(output_dir)`
    give them back; `huggingface_hub.HfApi().upload_folder(...)` publishes the folder as a dataset repository.

    Args:
        dataset_dict (`datasets.DatasetDict`): the splits to write.
        output_dir (`str` or `os.PathLike`): created if needed; it must not hold shards of these splits yet.
        max_shard_size (`int` or `str`, default "500MB"): largest shard, in bytes of Arrow data.

    Returns:
        `list[pathlib.Path]`: the files written.
    """
    if not isinstance(dataset_dict, datasets.DatasetDict):
        raise ValueError(
            f"export_to_parquet needs a datasets.DatasetDict, got {type(dataset_dict).__name__}."
        )
    max_bytes = _parse_size(max_shard_size)
    if max_bytes <= 0:
        raise ValueError(f"max_shard_size must be positive, got {max_shard_size!r}.")
    data_dir = Path(output_dir) / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for split in dataset_dict:
        existing = sorted(data_dir.glob(f"{split}-*.parquet"))
        if existing:
            raise FileExistsError(
                f"{data_dir} already holds shards of split {split!r} ({existing[0].name}, ...); use an empty folder."
            )
    written = []
    for split, dataset in dataset_dict.items():
        num_shards = max(1, math.ceil(dataset.data.nbytes / max_bytes))
        for index in range(num_shards):
            path = data_dir / f"{split}-{index:05d}-of-{num_shards:05d}.parquet"
            dataset.shard(num_shards, index, contiguous=True).to_parquet(
                str(path), batch_size=_ROWS_PER_BATCH
            )
            written.append(path)
    return written


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
            - a folder of Parquet shards (e.g. from `export_to_parquet`): `datasets.load_dataset(path, **kwargs)`;
            - a Hub dataset id ("user/name"): `datasets.load_dataset(path_or_id, **kwargs)`.
        **kwargs: passed to `prepare_unav100` or `datasets.load_dataset`.

    Returns:
        `datasets.DatasetDict` checked by `check_event_dataset`.
    """
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
