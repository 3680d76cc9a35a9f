"""Tests of the gradio demo (demo/app.py): its handler runs without gradio; the app itself is built, and screenshot
once in a headless Chromium, only where gradio (and Chromium) are installed."""

import importlib.util
import os
import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from loco_hf import LocoConfig, LocoFeatureExtractor, LocoForEventLocalization
from loco_hf.pipeline_loco import AudioVisualEventLocalizationPipeline, save_pipeline

pytest.importorskip("matplotlib")
APP_PATH = Path(__file__).parents[1] / "demo" / "app.py"


@pytest.fixture(scope="module")
def app():
    """demo/app.py imported as a module (it is a script folder, not a package)."""
    spec = importlib.util.spec_from_file_location("loco_demo_app", APP_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def small_parts():
    """A small-preset model (the synthetic examples' feature sizes) whose scores start near 0.5."""
    config = LocoConfig.from_preset("small")
    torch.manual_seed(0)
    model = LocoForEventLocalization(config).eval()
    with torch.no_grad():
        model.classification_head.prior_bias.fill_(0.0)
    return model, LocoFeatureExtractor.from_model_config(config)


@pytest.fixture(scope="module")
def state(app, small_parts):
    return app.DemoState(
        AudioVisualEventLocalizationPipeline(model=small_parts[0], feature_extractor=small_parts[1])
    )


def test_demo_imports_without_gradio(app):
    assert "gradio" not in vars(app)  # imported by build_demo only
    assert len(app.EXAMPLE_VIDEOS) == 5


def test_synthetic_example(app, state):
    example = next(iter(app.EXAMPLE_VIDEOS))
    result = app.localize(state, example=example, threshold=0.3)
    assert result.rows and all(row[3] >= 0.3 for row in result.rows)
    assert [row[1] for row in result.rows] == sorted(row[1] for row in result.rows)
    lanes = [label.get_text() for label in result.figure.axes[0].get_yticklabels()]
    assert {row[0] for row in result.rows} <= set(lanes)
    assert "annotated events (dark bars)" in result.summary
    assert sum(patch.get_gid() == "ground_truth" for patch in result.figure.axes[0].patches) > 0
    assert "Untrained" not in result.summary


def test_uploaded_features(app, state, tmp_path):
    generator = np.random.default_rng(0)
    np.save(tmp_path / "clip_visual.npy", generator.standard_normal((40, 256)).astype(np.float32))
    np.save(tmp_path / "clip_audio.npy", generator.standard_normal((40, 128)).astype(np.float32))
    result = app.localize(
        state, example=None, visual_file=str(tmp_path / "clip_visual.npy"), audio_file=str(tmp_path / "clip_audio.npy"),
        duration=12.8, threshold=0.2,
    )  # fmt: skip
    # 40 steps cover 12.96 s; a duration within two steps of it clips the events (a shorter one is an error).
    assert result.rows and max(row[2] for row in result.rows) <= 12.8
    assert result.figure.axes[0].get_xlim() == pytest.approx((0.0, 12.8))
    assert result.summary.startswith(f"**{len(result.rows)} events**")


def test_uploaded_features_without_duration_end_with_the_last_window(app, state, tmp_path):
    generator = np.random.default_rng(1)
    np.save(tmp_path / "v.npy", generator.standard_normal((40, 256)).astype(np.float32))
    np.save(tmp_path / "a.npy", generator.standard_normal((30, 128)).astype(np.float32))
    result = app.localize(state, visual_file=str(tmp_path / "v.npy"), audio_file=str(tmp_path / "a.npy"))
    # The streams are cut to 30 steps, which end at (29 * 8 + 24) / 25 = 10.24 s on the UnAV grid.
    assert result.figure.axes[0].get_xlim() == pytest.approx((0.0, 10.24))
    assert "in 10.2 s" in result.summary


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"visual_file": "a.npy"}, "Upload both"),
        ({}, "Pick a synthetic example"),
        ({"example": "nope"}, "Unknown example"),
    ],
)
def test_user_errors(app, state, arguments, message):
    with pytest.raises(ValueError, match=message):
        app.localize(state, **arguments)


def test_load_localizer(app, small_parts, tmp_path, monkeypatch):
    monkeypatch.delenv("LOCO_MODEL", raising=False)
    untrained = app.load_localizer()
    assert untrained.untrained
    assert app.localize(untrained, example=next(iter(app.EXAMPLE_VIDEOS))).summary.startswith(
        "**Untrained model**"
    )
    save_pipeline(*small_parts, tmp_path / "checkpoint")
    monkeypatch.setenv("LOCO_MODEL", str(tmp_path / "checkpoint"))
    loaded = app.load_localizer()
    assert not loaded.untrained and isinstance(loaded.localizer, AudioVisualEventLocalizationPipeline)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gradio_app_and_screenshot(app, state, tmp_path):
    """Builds the Blocks app; with Chromium, serves it and takes a headless screenshot of the first result.

    To refresh docs/images/demo.png, run this test with LOCO_DEMO_SCREENSHOT=docs/images/demo.png (and LOCO_MODEL
    set to a trained checkpoint; without it the app shows its untrained fallback, as a user would see it).
    """
    pytest.importorskip("gradio")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    target = os.environ.get("LOCO_DEMO_SCREENSHOT")
    demo = app.build_demo(app.load_localizer() if target else state)
    if chromium is None:
        pytest.skip("Chromium is not installed: the app was built but not screenshot")
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        screenshot = Path(target) if target else tmp_path / "demo.png"
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1000", "--virtual-time-budget=20000",
             f"--screenshot={screenshot.resolve()}", f"http://127.0.0.1:{port}/"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    finally:
        demo.close()
    from PIL import Image

    image = np.asarray(Image.open(screenshot).convert("L"))
    assert image.shape == (1000, 1400)
    # A rendered page, not a blank one: many grey levels, and dark pixels (text, bars) over a good part of it.
    assert len(np.unique(image)) > 20 and (image < 200).mean() > 0.01
