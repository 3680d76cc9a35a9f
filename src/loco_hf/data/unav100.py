# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""A `datasets` builder for the official UnAV-100 feature release (Geng et al., CVPR 2023).

`datasets` no longer runs loading scripts (removed in 4.0), so the builder is a `GeneratorBasedBuilder` class in the
package, used directly or through `prepare_unav100`; `loco_hf.data.export_to_parquet` writes a prepared dataset
as Parquet shards with a dataset card that `load_dataset(folder, config_name)` and the Hub read back with their
features.

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

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
from transformers.utils import logging

from ..configuration_loco import UNAV100_CLASS_NAMES
from .schema import ROWS_PER_BATCH, SPLITS, event_dataset_features

# A child of transformers' logger, so that transformers.logging.set_verbosity_*() governs its messages.
logger = logging.get_logger(f"transformers.{__name__}")

__all__ = [
    "ANNOTATION_FILE",
    "FEATURE_FOLDER",
    "UnAV100Builder",
    "UnAV100Config",
    "load_unav100_annotations",
    "prepare_unav100",
]

ANNOTATION_FILE = "annotations/unav100_annotations.json"
FEATURE_FOLDER = "av_features"
# A segment may end this far (seconds) past the video duration, for rounding in the annotation files.
_DURATION_TOLERANCE_SECONDS = 1e-3
# Videos named in an error message about missing files.
_NAMED_VIDEOS = 5
UNAV100_CITATION = """@inproceedings{geng2023dense,
  title={Dense-Localizing Audio-Visual Events in Untrimmed Videos: A Large-Scale Benchmark and Baseline},
  author={Geng, Tiantian and Wang, Teng and Duan, Jinming and Cong, Runmin and Zheng, Feng},
  booktitle={Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year={2023}
}"""


def release_fingerprint(data_dir: str | os.PathLike) -> str:
    """
    A hash of a release's content: the annotation file's bytes and each feature file's name, size and mtime.

    The builder's Arrow cache is keyed on it, so editing an annotation or replacing a feature file rebuilds the
    dataset instead of returning the old rows; a missing file or folder simply hashes as absent (the builder then
    names it in its error).

    Returns:
        `str`: 16 hex digits.
    """
    root = Path(data_dir).expanduser()
    digest = hashlib.sha256()
    annotation_path = root / ANNOTATION_FILE
    if annotation_path.is_file():
        digest.update(annotation_path.read_bytes())
    feature_dir = root / FEATURE_FOLDER
    if feature_dir.is_dir():
        for entry in sorted(os.scandir(feature_dir), key=lambda entry: entry.name):
            status = entry.stat()
            digest.update(f"\0{entry.name}\0{status.st_size}\0{status.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


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
            description=(
                "Visual: I3D (Kinetics-pretrained) RGB and optical-flow features (1024 + 1024), 24-frame windows every "
                "8 frames at 25 fps; audio: VGGish (AudioSet-pretrained) features (128) on the same 0.32 s grid. Released by "
                "the UnAV-100 authors."
            ),
        ),
        UnAV100Config(
            name="onepeace",
            version=datasets.Version("1.0.0"),
            description=(
                "ONE-PEACE video (1536, fine-tuned visual branch) and audio (1536) features, 16-frame windows every "
                "4 frames at 16 fps (0.25 s per step), as used by UniAV and CCNet."
            ),
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
    DEFAULT_WRITER_BATCH_SIZE = ROWS_PER_BATCH

    def __init__(self, *args, **kwargs):
        # The Arrow cache is keyed on the release's content, so an edited annotation or feature file rebuilds.
        if kwargs.get("hash") is None and kwargs.get("data_dir") is not None:
            kwargs["hash"] = release_fingerprint(kwargs["data_dir"])
        super().__init__(*args, **kwargs)

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=(
                "UnAV-100 (Geng et al., CVPR 2023): 10,790 untrimmed YouTube videos with 30,059 audio-visual events "
                f"of 100 classes. {self.config.description or ''}"
            ),
            features=event_dataset_features(
                self.config.visual_dim, self.config.audio_dim, UNAV100_CLASS_NAMES, self.config.feature_dtype
            ),
            homepage="https://unav100.github.io/",
            citation=UNAV100_CITATION,
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
    def _load_stream(path: Path, dtype: np.dtype) -> np.ndarray:
        """
        Loads one feature file already checked by `_check_video_files`, in the stored `dtype`.

        Finiteness is checked after the cast, so that values too large for the stored type (1e300 in float64
        stored as float32, 70000 stored as float16) are refused like NaN instead of being written as inf.
        """
        array = np.load(path, allow_pickle=False)
        with np.errstate(over="ignore", invalid="ignore"):
            stored = array.astype(dtype, copy=False)
        if not np.isfinite(stored).all():
            if np.isfinite(array).all():
                raise ValueError(
                    f"Feature file {path} holds values too large for {dtype} storage (largest magnitude "
                    f"{np.abs(array).max():g}); they would be stored as infinite."
                )
            raise ValueError(f"Feature file {path} holds NaN or infinite values.")
        return stored

    def _generate_examples(self, videos: dict[str, dict], feature_dir: str):
        config = self.config
        dtype = np.dtype(config.feature_dtype)
        feature_dir = Path(feature_dir)
        truncated, largest_gap, largest_gap_video = 0, 0, None
        for video_id, video in videos.items():
            visual_streams = [
                self._load_stream(feature_dir / f"{video_id}_{suffix}.npy", dtype)
                for suffix in config.visual_streams
            ]
            audio = self._load_stream(feature_dir / f"{video_id}_{config.audio_stream}.npy", dtype)
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
                    "visual_features": visual,
                    "audio_features": audio[:length],
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

    The cache is keyed on the release's content (`release_fingerprint`: the annotation file and each feature
    file's size and modification time), so an edited release rebuilds; the log says which cache is used.

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
    cached = Path(builder.cache_dir, datasets.config.DATASET_INFO_FILENAME).is_file()
    logger.info(
        "%s the UnAV-100 Arrow cache %s (release fingerprint %s).",
        "Reusing" if cached else "Building", builder.cache_dir, builder.hash,
    )  # fmt: skip
    try:
        builder.download_and_prepare()
    except datasets.exceptions.DatasetGenerationError as error:
        # Our own errors raised while generating (non-finite values) come unwrapped.
        if isinstance(error.__cause__, (ValueError, FileNotFoundError)):
            raise error.__cause__ from None
        raise
    return builder.as_dataset()
