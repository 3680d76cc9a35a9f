"""Publishing a trained model: `scripts/train.py --push_to_hub` against the local Hub stand-in, then loading it
back from a clean cache with the code that travelled with it.

Hub clients read HF_ENDPOINT when huggingface_hub is imported and the suite runs offline, so every client runs in
a fresh interpreter whose environment comes from `hub_server.hub_environment`; the server runs in this process.
The loading client does not import loco_hf: the model, feature extractor and pipeline come from the repo's code.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hub_server import hub_environment, serve, stop
from huggingface_hub import ModelCard
from test_training import NUM_VIDEOS, TINY_OVERRIDES

from loco_hf import LocoForEventLocalization
from loco_hf.data import synthetic_unav
from loco_hf.feature_extraction_loco import LocoFeatureExtractor

REPO_ROOT = Path(__file__).resolve().parents[1]
REPO_ID = "dummy/loco-tiny"

LOAD_CLIENT = """
import json, sys
import numpy as np
import torch
from huggingface_hub import HfApi, ModelCard, snapshot_download
from transformers import AutoFeatureExtractor, AutoModel, pipeline

args = json.loads(sys.argv[1])
inputs = np.load(args["inputs"])
model = AutoModel.from_pretrained(args["repo_id"], trust_remote_code=True)
feature_extractor = AutoFeatureExtractor.from_pretrained(args["repo_id"], trust_remote_code=True)
batch = feature_extractor(inputs["visual"], inputs["audio"], return_tensors="pt")
with torch.no_grad():
    outputs = model(**batch)
events = feature_extractor.post_process_event_localization(outputs, durations=[float(inputs["duration"])])[0]
localizer = pipeline(model=args["repo_id"], trust_remote_code=True)
found = localizer({"visual_features": inputs["visual"], "audio_features": inputs["audio"]}, threshold=0.0)
card = ModelCard.load(args["repo_id"])
np.savez(args["outputs"], logits=outputs.logits.numpy(), scores=events["scores"].numpy())
print(json.dumps({
    "files": sorted(HfApi().list_repo_files(args["repo_id"])),
    "model_module": type(model).__module__,
    "extractor_module": type(feature_extractor).__module__,
    "pipeline_class": type(localizer).__name__,
    "pipeline_events": len(found),
    "card_results": {result.metric_name: result.metric_value for result in card.data.eval_results or []},
    "card_text": card.text,
    "card_library": card.data.library_name,
    "card_pipeline_tag": card.data.get("pipeline_tag"),
    "loco_hf_imported": "loco_hf" in sys.modules,
}))
"""


# Exactly what a pushed model folder holds: weights, configs, the code they name, card, metrics and timeline.
PUSHED_FILES = {
    "model.safetensors", "config.json", "preprocessor_config.json", "README.md", "metrics.json",
    "configuration_loco.py", "modeling_loco.py", "loss_loco.py", "feature_extraction_loco.py", "pipeline_loco.py",
    "timeline_example.png",
}  # fmt: skip


@pytest.fixture(scope="module")
def hub():
    server, url = serve()
    yield server, url
    stop(server)


@pytest.fixture(scope="module")
def hub_url(hub):
    return hub[1]


def train_command(output_dir, *options) -> list[str]:
    """scripts/train.py for one epoch of the tiny model on the test data, with `options` added."""
    return [
        sys.executable, str(REPO_ROOT / "scripts/train.py"),
        "--num_videos", str(NUM_VIDEOS), "--model_overrides", json.dumps(TINY_OVERRIDES), "--num_epochs", "1",
        "--warmup_epochs", "0", "--batch_size", "4", "--output_dir", str(output_dir), *options,
    ]  # fmt: skip


def test_push_then_load_from_a_clean_cache(hub, tmp_path):
    server, hub_url = hub
    output_dir = tmp_path / "run"
    # Files that share the output folder with the model and must stay local, even those a pattern would match.
    for name in (
        "src/loco_local.py",
        "secrets/token.json",
        "notes.json",
        "logs/old.json",
        "model_notes.safetensors",
    ):
        (output_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (output_dir / name).write_text("{}")
    # Data from a local folder, whose absolute path must not be published either.
    dataset_dir = tmp_path / "prepared"
    synthetic_unav(num_videos=NUM_VIDEOS, visual_dim=24, audio_dim=12, num_classes=5).save_to_disk(
        dataset_dir
    )
    environment = {**hub_environment(hub_url, tmp_path / "home_push"), "OMP_NUM_THREADS": "1"}
    command = train_command(
        output_dir, "--dataset_dir", str(dataset_dir), "--push_to_hub", "--hub_model_id", REPO_ID
    )
    trained = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr[-4000:]
    pushed = server.repos[("model", REPO_ID)].resolve("main").files
    assert set(pushed) == PUSHED_FILES
    for name, stored in pushed.items():
        assert str(tmp_path).encode() not in stored.content, name

    # One test video, through the local copy and through the Hub copy loaded without loco_hf.
    feature_extractor = LocoFeatureExtractor.from_pretrained(output_dir)
    generator = np.random.default_rng(0)
    inputs = {
        "visual": generator.standard_normal((40, TINY_OVERRIDES["visual_dim"])).astype(np.float32),
        "audio": generator.standard_normal((40, TINY_OVERRIDES["audio_dim"])).astype(np.float32),
        "duration": np.float32(13.5),
    }
    np.savez(tmp_path / "inputs.npz", **inputs)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(LOAD_CLIENT), json.dumps({
            "repo_id": REPO_ID, "inputs": str(tmp_path / "inputs.npz"), "outputs": str(tmp_path / "outputs.npz"),
        })],
        env={**hub_environment(hub_url, tmp_path / "home_load"), "OMP_NUM_THREADS": "1"},
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])

    # The model, its feature extractor, its code, card, metrics and example timeline travelled; nothing else.
    assert set(loaded["files"]) == PUSHED_FILES
    assert not loaded["loco_hf_imported"]
    assert loaded["model_module"].startswith("transformers_modules")
    assert loaded["extractor_module"].startswith("transformers_modules")
    assert (
        loaded["pipeline_class"] == "AudioVisualEventLocalizationPipeline" and loaded["pipeline_events"] > 0
    )

    # Identical outputs to the local folder.
    model = LocoForEventLocalization.from_pretrained(output_dir).eval()
    batch = feature_extractor(inputs["visual"], inputs["audio"], return_tensors="pt")
    with torch.no_grad():
        outputs = model(**batch)
    events = feature_extractor.post_process_event_localization(outputs, durations=[13.5])[0]
    remote = np.load(tmp_path / "outputs.npz")
    np.testing.assert_allclose(remote["logits"], outputs.logits.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(remote["scores"], events["scores"].numpy(), rtol=0, atol=1e-6)

    # The card parses and carries the test mAP of metrics.json (in its text: synthetic data has no Hub dataset id,
    # which a model-index entry needs).
    metrics = json.loads((output_dir / "metrics.json").read_text())["test"]
    assert loaded["card_library"] == "transformers" and loaded["card_pipeline_tag"] == "video-classification"
    assert loaded["card_results"] == {}
    assert f"| {100 * metrics['average_mAP']:.2f} |" in loaded["card_text"]
    local_card = ModelCard.load(output_dir / "README.md")
    assert REPO_ID in local_card.text and "2409.07967" in local_card.text


def test_a_bad_token_fails_before_training(hub_url, tmp_path):
    """With a token the Hub refuses, `--push_to_hub` stops before any data is loaded or step trained, naming the
    repo."""
    output_dir = tmp_path / "run"
    environment = {
        **hub_environment(hub_url, tmp_path / "home"),
        "HF_TOKEN": "hf_revoked",
        "OMP_NUM_THREADS": "1",
    }
    command = train_command(output_dir, "--push_to_hub", "--hub_model_id", "dummy/loco-refused")
    refused = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0
    assert "Cannot create or reach the Hub repo 'dummy/loco-refused'" in refused.stderr
    assert "401" in refused.stderr
    assert not (output_dir / "checkpoints").exists() and not (output_dir / "model.safetensors").exists()
