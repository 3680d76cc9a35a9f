"""The Hub page of a LoCo model: the model card's metadata and links, and the Space-ready demo folder it links to."""

from dataclasses import asdict
from pathlib import Path

import evaluate
import pytest
from huggingface_hub import ModelCard, SpaceCard

from loco_hf import LocoConfig
from loco_hf.modelcard import METRIC_ID, build_model_card
from loco_hf.training import TrainingConfig

REPO_ROOT = Path(__file__).parents[1]
TEST_METRICS = {"mAP": {f"{t / 10:.1f}": 0.6 - 0.05 * t for t in range(1, 10)}, "average_mAP": 0.35}


def card_for(**options) -> ModelCard:
    """A card built, written out and parsed back as the Hub parses README.md."""
    training = {**asdict(TrainingConfig()), "num_processes": 1, "total_updates": 10}
    if options.get("dataset_id"):
        training["dataset_dir"] = options["dataset_id"]
    card = build_model_card(
        model_id="your-org/loco-small",
        model_config=LocoConfig.from_preset("small"),
        training=training,
        test_metrics=TEST_METRICS,
        dataset_description="synthetic videos",
        **options,
    )
    return ModelCard(str(card))


def test_metadata_files_the_model_for_search():
    data = card_for().data
    assert data.library_name == "transformers" and data.license == "mit"
    assert data.pipeline_tag == "video-classification"
    assert data.inference is False  # no inference provider runs custom code on pre-extracted features
    for tag in ("audio-visual", "temporal-action-localization", "event-localization", "custom_code"):
        assert tag in data.tags, tag
    assert data.metrics == [METRIC_ID]


def test_metric_id_is_the_projects_evaluate_module(tmp_path):
    metric = evaluate.load(str(REPO_ROOT / "metrics" / "dave_map"), cache_dir=str(tmp_path))
    assert metric.name == METRIC_ID


@pytest.mark.parametrize("dataset_id", [None, "your-org/unav100-features"])
def test_model_index_names_a_hub_dataset_or_is_absent(dataset_id):
    card = card_for(dataset_id=dataset_id)
    assert "| 35.00 |" in card.text  # the test mAP table is always in the text
    if dataset_id is None:
        assert card.data.eval_results is None and card.data.datasets is None
        return
    assert card.data.datasets == [dataset_id]
    results = {result.metric_name: result for result in card.data.eval_results}
    assert set(results) == {"mAP@0.5", "mAP@0.6", "mAP@0.7", "mAP@0.8", "mAP@0.9", "average mAP"}
    assert results["average mAP"].metric_value == 35.0
    for result in results.values():
        assert (
            result.dataset_type == dataset_id
            and result.metric_type == METRIC_ID
            and result.dataset_split == "test"
        )


def test_card_says_how_to_try_the_model():
    text = card_for().text
    assert (
        "python demo/app.py --model your-org/loco-small" in text and "LOCO_MODEL=your-org/loco-small" in text
    )
    linked = card_for(demo_space="your-org/loco-demo").text
    assert "(https://huggingface.co/spaces/your-org/loco-demo)" in linked


def test_demo_folder_is_a_gradio_space():
    space = SpaceCard.load(REPO_ROOT / "demo" / "README.md").data
    assert space.sdk == "gradio" and space.app_file == "app.py"
    assert (REPO_ROOT / "demo" / space.app_file).is_file()
    requirements = (REPO_ROOT / "demo" / "requirements.txt").read_text().splitlines()
    assert [line for line in requirements if line and not line.startswith("#")] == ["loco-hf[demo]"]
    assert "LOCO_MODEL" in (REPO_ROOT / "demo" / "app.py").read_text()
