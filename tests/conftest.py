"""Test set-up: a private Hugging Face home and offline mode, set before anything imports the HF libraries.

Tests that talk to the project's local Hub test server (tests/hub_server.py) run their clients in a subprocess
with that server's endpoint instead (see `hub_server.hub_environment`).
"""

import os
import tempfile

os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="loco_hf_test_home_")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tiny models run fastest on one thread, and subprocesses (remote code, accelerate launches) inherit this.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from transformers.utils import logging  # noqa: E402

from loco_hf import LocoConfig  # noqa: E402

torch.set_num_threads(1)
# loco-hf logs under transformers' logger (`transformers.loco_hf.<module>`), which does not propagate to the root
# logger outside CI: let it, so that pytest's caplog sees the records.
logging.enable_propagation()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """`train` sets torch's CPU threads for its process (`cpu_threads`); later tests get one thread back."""
    yield
    torch.set_num_threads(1)


def make_tiny_config(**overrides) -> LocoConfig:
    """Hidden 32, 2 heads, 3 levels, 5 classes, max_seq_len 32: fast enough for every modeling test."""
    names = [f"class {i}" for i in range(5)]
    fields = {
        "visual_dim": 24,
        "audio_dim": 12,
        "hidden_size": 32,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "num_pyramid_levels": 3,
        "max_seq_len": 32,
        "lcf_projection_dim": 16,
        "dependency_hidden_size": 8,
        "head_hidden_size": 32,
        "id2label": dict(enumerate(names)),
        "label2id": {name: i for i, name in enumerate(names)},
    }
    return LocoConfig(**{**fields, **overrides})


@pytest.fixture
def tiny_config() -> LocoConfig:
    return make_tiny_config()


def make_tiny_batch(config: LocoConfig, lengths=(32, 20, 9), seed: int = 0) -> dict:
    """A ragged batch padded to max_seq_len, with labels in steps (one video without events)."""
    generator = torch.Generator().manual_seed(seed)
    batch_size, seq_len = len(lengths), config.max_seq_len
    mask = torch.zeros(batch_size, seq_len, dtype=torch.long)
    for index, length in enumerate(lengths):
        mask[index, :length] = 1
    visual = torch.randn(batch_size, seq_len, config.visual_dim, generator=generator) * mask.unsqueeze(-1)
    audio = torch.randn(batch_size, seq_len, config.audio_dim, generator=generator) * mask.unsqueeze(-1)
    labels = [
        {
            "class_labels": torch.tensor([1, 3, 1]),
            "segments": torch.tensor([[2.0, 9.0], [5.0, 30.0], [20.0, 22.5]]),
        },
        {"class_labels": torch.tensor([4]), "segments": torch.tensor([[-1.5, 12.0]])},
        {"class_labels": torch.zeros(0, dtype=torch.long), "segments": torch.zeros(0, 2)},
    ][:batch_size]
    return {"visual_features": visual, "audio_features": audio, "attention_mask": mask, "labels": labels}


@pytest.fixture
def tiny_batch(tiny_config) -> dict:
    return make_tiny_batch(tiny_config)


UNAV100_ANNOTATIONS = (
    __import__("pathlib").Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "unav100"
    / "unav100_annotations.json"
)


@pytest.fixture(scope="session")
def unav100_annotations() -> dict:
    """The real UnAV-100 `database` dict, when the shared data folder is beside the checkout; skips otherwise."""
    if not UNAV100_ANNOTATIONS.exists():
        pytest.skip("the real UnAV-100 annotation file is not available")
    import json

    return json.loads(UNAV100_ANNOTATIONS.read_text())["database"]


def randomize_like_trained(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """LayerNorm biases and layer scales as training leaves them: at initialisation (biases 0, scales 1e-4) padded
    steps could leak into valid ones without any output showing it."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("_scale") or (name.endswith(".bias") and parameter.ndim == 1):
                parameter.copy_(0.5 + torch.rand(parameter.shape, generator=generator))
    return model
