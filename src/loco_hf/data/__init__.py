# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""
Data for LoCo: the event-dataset schema (`schema`), the UnAV-100 builder (`unav100`), UnAV-100 timelines
(`timelines`), synthetic UnAV-style data (`synthetic`), annotation statistics (`statistics`) and batching
(`collate`).
"""

from .collate import LengthGroupedSampler, LocoDataCollator, crop_video, video_lengths
from .schema import check_event_dataset, event_dataset_features, export_to_parquet, load_event_dataset
from .statistics import (
    UNAV100_STATISTICS,
    annotation_statistics,
    format_statistics_table,
    to_unav_annotations,
)
from .synthetic import (
    SyntheticUnAVConfig,
    SyntheticVideo,
    generate_synthetic_video,
    synthetic_class_names,
    synthetic_features,
    synthetic_unav,
)
from .unav100 import UnAV100Builder, UnAV100Config, load_unav100_annotations, prepare_unav100

__all__ = [
    "UNAV100_STATISTICS",
    "LengthGroupedSampler",
    "LocoDataCollator",
    "SyntheticUnAVConfig",
    "SyntheticVideo",
    "UnAV100Builder",
    "UnAV100Config",
    "annotation_statistics",
    "check_event_dataset",
    "crop_video",
    "event_dataset_features",
    "export_to_parquet",
    "format_statistics_table",
    "generate_synthetic_video",
    "load_event_dataset",
    "load_unav100_annotations",
    "prepare_unav100",
    "synthetic_class_names",
    "synthetic_features",
    "synthetic_unav",
    "to_unav_annotations",
    "video_lengths",
]
