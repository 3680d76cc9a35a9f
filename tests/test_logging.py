"""loco-hf logs through transformers' logging: `transformers.logging.set_verbosity_*()` governs its messages.

Each check runs in a fresh interpreter, as a user's script does, because transformers' handler writes to the
stderr of the process that first configured it.
"""

import os
import subprocess
import sys
import textwrap

# Every loco-hf module that logs.
LOGGING_MODULES = [
    "loco_hf.data.schema",
    "loco_hf.data.unav100",
    "loco_hf.evaluation",
    "loco_hf.feature_extraction_loco",
    "loco_hf.modeling_loco",
    "loco_hf.pipeline_loco",
    "loco_hf.plotting",
    "loco_hf.training.checkpointing",
    "loco_hf.training.data",
    "loco_hf.training.evaluation",
    "loco_hf.training.loop",
    "loco_hf.training.reporting",
]

SCRIPT = textwrap.dedent(
    """
    import importlib

    import numpy as np
    import transformers

    from loco_hf import LocoConfig, LocoFeatureExtractor, LocoForEventLocalization
    from loco_hf.pipeline_loco import AudioVisualEventLocalizationPipeline

    config = LocoConfig.from_preset("small")
    localizer = AudioVisualEventLocalizationPipeline(
        model=LocoForEventLocalization(config).eval(),
        feature_extractor=LocoFeatureExtractor.from_model_config(config),
    )
    # 20 steps cover about 6.7 s; a 60 s duration makes the pipeline warn that the two disagree.
    video = {"visual_features": np.zeros((20, 256), "float32"), "audio_features": np.zeros((20, 128), "float32")}


    def warn(tag):
        localizer({**video, "duration": 60.0})
        for name in MODULES:
            importlib.import_module(name).logger.warning("%s from %s", tag, name)


    warn("shown")
    transformers.logging.set_verbosity_error()
    warn("silenced")
    transformers.logging.set_verbosity_warning()
    warn("shown again")
    """
)


def test_transformers_verbosity_governs_loco_hf_warnings():
    # Without CI, under which transformers also hands its records to the root logger (each line then shows twice).
    environment = {name: value for name, value in os.environ.items() if name != "CI"}
    finished = subprocess.run(
        [sys.executable, "-c", f"MODULES = {LOGGING_MODULES!r}\n{SCRIPT}"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    lines = finished.stderr.splitlines()
    duration_warnings = [line for line in lines if "feature steps, but a 60.00 s video gives" in line]
    assert len(duration_warnings) == 2, finished.stderr  # printed by default and after set_verbosity_warning
    for name in LOGGING_MODULES:
        assert sum(line.endswith(f"shown from {name}") for line in lines) == 1, name
        assert sum(line.endswith(f"shown again from {name}") for line in lines) == 1, name
    assert "silenced" not in finished.stderr
