"""loco-hf: LoCo for dense audio-visual event localization, as a Hugging Face model package.

Importing the package registers LoCo with the transformers Auto classes, and marks the classes for
`register_for_auto_class` so that a saved checkpoint carries its code and loads with `trust_remote_code=True`.
"""

from transformers import AutoConfig, AutoFeatureExtractor, AutoModel

from .configuration_loco import PRESETS, UNAV100_CLASS_NAMES, LocoConfig
from .convert_unav_original_to_loco import convert_unav_checkpoint
from .data import (
    LocoDataCollator,
    UnAV100Builder,
    export_to_parquet,
    load_event_dataset,
    prepare_unav100,
    synthetic_unav,
)
from .evaluation import average_precision_by_length, false_positive_breakdown, mean_average_precision
from .feature_extraction_loco import (
    LocoFeatureExtractor,
    decode_segments,
    seconds_to_steps,
    soft_nms_1d,
    steps_to_seconds,
)
from .modeling_loco import (
    LocoEventLocalizationOutput,
    LocoForEventLocalization,
    LocoModel,
    LocoPreTrainedModel,
)
from .pipeline_loco import AudioVisualEventLocalizationPipeline, load_pipeline, save_pipeline

AutoConfig.register(LocoConfig.model_type, LocoConfig, exist_ok=True)
AutoModel.register(LocoConfig, LocoForEventLocalization, exist_ok=True)
AutoFeatureExtractor.register(LocoConfig, LocoFeatureExtractor, exist_ok=True)
LocoConfig.register_for_auto_class()
LocoForEventLocalization.register_for_auto_class("AutoModel")
LocoFeatureExtractor.register_for_auto_class("AutoFeatureExtractor")

__all__ = [
    "AudioVisualEventLocalizationPipeline",
    "PRESETS",
    "UnAV100Builder",
    "UNAV100_CLASS_NAMES",
    "LocoConfig",
    "LocoDataCollator",
    "LocoEventLocalizationOutput",
    "LocoFeatureExtractor",
    "LocoForEventLocalization",
    "LocoModel",
    "LocoPreTrainedModel",
    "average_precision_by_length",
    "convert_unav_checkpoint",
    "export_to_parquet",
    "decode_segments",
    "false_positive_breakdown",
    "load_event_dataset",
    "load_pipeline",
    "mean_average_precision",
    "prepare_unav100",
    "seconds_to_steps",
    "save_pipeline",
    "soft_nms_1d",
    "steps_to_seconds",
    "synthetic_unav",
]
