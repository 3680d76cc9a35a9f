# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Data for LoCo: the UnAV-100 builder, synthetic UnAV-style data and batching."""

from .collate import LocoDataCollator, crop_video
from .synthetic import (
    UNAV100_STATISTICS,
    SyntheticUnAVConfig,
    SyntheticVideo,
    annotation_statistics,
    format_statistics_table,
    generate_synthetic_video,
    synthetic_class_names,
    synthetic_features,
    synthetic_unav,
    to_unav_annotations,
)
from .unav100 import (
    UnAV100Builder,
    UnAV100Config,
    check_event_dataset,
    event_dataset_features,
    export_to_parquet,
    load_event_dataset,
    load_unav100_annotations,
    prepare_unav100,
)

__all__ = [
    "UNAV100_STATISTICS",
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
]
