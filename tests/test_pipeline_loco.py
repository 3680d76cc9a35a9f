"""Tests of loco_hf.pipeline_loco: the audio-visual-event-localization pipeline, saving it with a checkpoint, and
loading that checkpoint in a fresh interpreter (from a directory and from the local Hub test server).

The tiny model is untrained, so its scores sit near the classification prior (0.01); the fixture raises the
classifier's prior bias so that the default threshold keeps some events.
"""

import json
import logging
import math
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from conftest import make_tiny_config, randomize_like_trained
from hub_server import hub_environment, serve, stop
from transformers import pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from loco_hf import LocoFeatureExtractor, LocoForEventLocalization
from loco_hf.data import synthetic_unav
from loco_hf.pipeline_loco import (
    DEFAULT_THRESHOLD,
    TASK,
    AudioVisualEventLocalizationPipeline,
    load_pipeline,
    round_events,
    save_pipeline,
)


def make_model(config, prior_bias: float = 0.0):
    torch.manual_seed(0)
    model = LocoForEventLocalization(config).eval()
    with torch.no_grad():
        model.classification_head.prior_bias.fill_(prior_bias)  # scores around sigmoid(0) = 0.5
    return model


@pytest.fixture(scope="module")
def parts():
    config = make_tiny_config()
    return make_model(config), LocoFeatureExtractor.from_model_config(config)


@pytest.fixture(scope="module")
def localizer(parts):
    model, extractor = parts
    return pipeline(TASK, model=model, feature_extractor=extractor)


def make_video(num_steps=20, seed=0, visual_dim=24, audio_dim=12):
    generator = np.random.default_rng(seed)
    return {
        "visual_features": generator.standard_normal((num_steps, visual_dim)).astype(np.float32),
        "audio_features": generator.standard_normal((num_steps, audio_dim)).astype(np.float32),
    }


def manual_events(parts, video, duration):
    """The wiring the pipeline must reproduce: feature extractor -> model -> post-processing."""
    model, extractor = parts
    inputs = extractor(video["visual_features"], video["audio_features"], return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs)
    (result,) = extractor.post_process_event_localization(outputs, [duration])
    return result


def default_duration(num_steps, extractor):
    return ((num_steps - 1) * extractor.feature_stride + extractor.feature_window) / extractor.fps


# ---- in-process behaviour ---------------------------------------------------------------------------------------


def test_task_is_registered(localizer):
    assert TASK in PIPELINE_REGISTRY.get_supported_tasks()
    assert isinstance(localizer, AudioVisualEventLocalizationPipeline)


def test_output_matches_manual_wiring(parts, localizer):
    video = make_video(num_steps=20)
    duration = default_duration(20, parts[1])  # 7.04 s on the UnAV grid
    assert duration == pytest.approx(7.04)
    expected = manual_events(parts, video, duration)
    events = localizer(video, threshold=0.0)
    assert events and all(set(event) == {"label", "start", "end", "score"} for event in events)
    assert [(e["start"], e["end"]) for e in events] == sorted((e["start"], e["end"]) for e in events)
    assert all(0 <= e["start"] <= e["end"] <= duration + 1e-6 for e in events)
    got = sorted((e["label"], round(e["start"], 4), round(e["end"], 4), round(e["score"], 5)) for e in events)
    want = sorted(
        (name, round(start, 4), round(end, 4), round(score, 5))
        for name, (start, end), score in zip(
            expected["label_names"], expected["segments"].tolist(), expected["scores"].tolist(), strict=True
        )
    )
    assert got == want


def test_threshold_and_top_k(localizer):
    video = make_video(num_steps=20)
    everything = localizer(video, threshold=0.0)
    scores = sorted((e["score"] for e in everything), reverse=True)
    assert len(everything) > 5
    default = localizer(video)
    assert sorted(e["score"] for e in default) == sorted(s for s in scores if s >= DEFAULT_THRESHOLD)
    middle = scores[len(scores) // 2]
    assert all(e["score"] >= middle for e in localizer(video, threshold=middle))
    best = localizer(video, threshold=0.0, top_k=3)
    assert sorted((e["score"] for e in best), reverse=True) == pytest.approx(scores[:3])
    assert [e["start"] for e in best] == sorted(e["start"] for e in best)


def test_return_duration(localizer):
    """`return_duration=True` gives each video's duration (given, or from its features) with the same events."""
    videos = [{**make_video(num_steps=20), "duration": 6.5}, make_video(num_steps=31, seed=1)]
    results = localizer(videos, threshold=0.0, return_duration=True)
    assert [set(result) for result in results] == [{"duration", "events"}] * 2
    # 31 steps on the UnAV grid end at (30 * 8 + 24) / 25 = 10.56 s.
    assert [result["duration"] for result in results] == pytest.approx([6.5, 10.56])
    assert [result["events"] for result in results] == localizer(videos, threshold=0.0)
    single = localizer(videos[1], top_k=2, return_duration=True)
    assert single["duration"] == pytest.approx(10.56) and len(single["events"]) == 2
    with pytest.raises(ValueError, match="return_duration must be True or False"):
        localizer(videos[0], return_duration="yes")


def test_round_events():
    events = [{"label": "dog", "start": 1.23456, "end": 2.000049, "score": 0.123456}]
    assert round_events(events) == [{"label": "dog", "start": 1.235, "end": 2.0, "score": 0.1235}]
    assert events[0]["start"] == 1.23456  # the input is left as it was


def test_input_forms_and_duration(localizer, tmp_path):
    video = make_video(num_steps=25, seed=1)
    reference = localizer(video, threshold=0.0)
    np.save(tmp_path / "visual.npy", video["visual_features"])
    np.save(tmp_path / "audio.npy", video["audio_features"])
    from_paths = localizer(
        {"visual_features": str(tmp_path / "visual.npy"), "audio_features": tmp_path / "audio.npy"},
        threshold=0.0,
    )
    from_tensors = localizer({key: torch.from_numpy(value) for key, value in video.items()}, threshold=0.0)
    assert from_paths == reference
    assert [e["label"] for e in from_tensors] == [e["label"] for e in reference]
    # A given duration clips the events (25 steps cover 8.64 s; 8.0 s is within the 2-step tolerance); streams of
    # different lengths are cut to the shorter one.
    clipped = localizer({**video, "duration": 8.0}, threshold=0.0)
    assert clipped and max(e["end"] for e in clipped) <= 8.0 + 1e-6
    shorter_audio = {**video, "audio_features": video["audio_features"][:20]}
    assert localizer(shorter_audio, threshold=0.0) == localizer(
        {key: value[:20] for key, value in video.items()}, threshold=0.0
    )


def test_dataset_rows_are_accepted(localizer):
    video = make_video(num_steps=20)
    row = {
        **video, "video_id": "row-1", "duration": 7.04, "fps": 25.0, "feature_stride": 8, "feature_window": 24,
        "segments": [[1.0, 2.0]], "labels": [3],
    }  # fmt: skip
    assert localizer(row, threshold=0.0) == localizer(video, threshold=0.0)


def test_streams_dataset_rows(localizer, tmp_path):
    dataset = synthetic_unav(
        num_videos=10, split="test", visual_dim=24, audio_dim=12, num_classes=5, cache_dir=tmp_path
    )  # two test videos
    expected = [
        localizer({"visual_features": row["visual_features"], "audio_features": row["audio_features"],
                   "duration": row["duration"]}, threshold=0.0, top_k=4)
        for row in dataset.with_format("numpy")
    ]  # fmt: skip
    streamed = localizer((row for row in dataset), threshold=0.0, top_k=4)  # Python format: nested lists
    assert list(streamed) == expected
    batched = localizer((row for row in dataset.with_format("numpy")), threshold=0.0, top_k=4, batch_size=2)
    assert [[e["label"] for e in events] for events in batched] == [
        [e["label"] for e in events] for events in expected
    ]


def assert_same_events(got_videos: list[list[dict]], want_videos: list[list[dict]]):
    """The same labels per video, and starts, ends and scores to float tolerance."""
    for got, want in zip(got_videos, want_videos, strict=True):
        assert [e["label"] for e in got] == [e["label"] for e in want]
        np.testing.assert_allclose(
            [[e["start"], e["end"], e["score"]] for e in got], [[e["start"], e["end"], e["score"]] for e in want],
            rtol=1e-4, atol=1e-4,
        )  # fmt: skip


def test_lists_and_batches(localizer):
    videos = [
        make_video(num_steps=20, seed=2),
        make_video(num_steps=45, seed=3),
        make_video(num_steps=9, seed=4),
    ]
    one_by_one = [localizer(video, threshold=0.0, top_k=10) for video in videos]
    as_list = localizer(videos, threshold=0.0, top_k=10)
    batched = localizer(videos, threshold=0.0, top_k=10, batch_size=3)
    assert as_list == one_by_one
    # Padding the batch to a common length changes no valid output.
    assert_same_events(batched, one_by_one)


def test_batches_hold_videos_of_similar_length(parts):
    """With batch_size > 1 a list runs in order of length, each batch padded only to its longest video (rounded up
    to the largest stride), and a trained model's events do not depend on the batching; results keep the input
    order."""
    extractor = parts[1]
    model = randomize_like_trained(make_model(make_tiny_config()))
    localizer = pipeline(TASK, model=model, feature_extractor=extractor)
    videos = [make_video(num_steps=steps, seed=steps) for steps in (30, 9, 25, 14)]
    one_by_one = [localizer(video, threshold=0.0, top_k=10) for video in videos]
    padded_lengths = []
    hook = model.loco.register_forward_hook(
        lambda module, args, output: padded_lengths.append(output.padded_length)
    )
    try:
        batched = localizer(videos, threshold=0.0, top_k=10, batch_size=2)
    finally:
        hook.remove()
    assert padded_lengths == [16, 32]  # (9, 14) then (25, 30), rounded up to the largest stride, 4
    assert_same_events(batched, one_by_one)


@pytest.mark.parametrize(
    ("bad_input", "message"),
    [
        ([[0.0]], "takes a dict"),
        ({"visual_features": np.zeros((5, 24))}, r"lacks \['audio_features'\]"),
        ({**make_video(), "visual": 1}, r"Unknown keys \['visual'\]"),
        ({**make_video(), "duration": -2.0}, "positive, finite"),
        ({**make_video(), "duration": "ten"}, "number of seconds"),
        ({**make_video(), "fps": 16.0, "video_id": "v7"}, "fps of video 'v7' is 16.0"),
        ({**make_video(visual_dim=23), "video_id": "v8"}, "'v8'.*23 channels"),
        (
            {**make_video(), "audio_features": "missing.npy", "video_id": "v9"},
            "audio_features of video 'v9': no such",
        ),
        ({**make_video(), "audio_features": {"a": 1}}, "must be a .T, D. numpy array"),
        ({**make_video(), "audio_features": [[1.0, 2.0], [3.0]]}, "audio_features of .* not a rectangular"),
        (
            {**make_video(), "visual_features": np.zeros((3, 20, 24)), "video_id": "v10"},
            r"visual_features of video 'v10' must have shape \(T, visual_dim\), one video, got \(3, 20, 24\)",
        ),
        (
            {**make_video(num_steps=150), "duration": 1.0, "video_id": "v11"},
            r"duration of video 'v11' is 1.0 s, but its 150 feature steps cover 48.64 s",
        ),
    ],
)
def test_bad_inputs_raise_value_errors(localizer, bad_input, message):
    with pytest.raises(ValueError, match=message):
        localizer(bad_input)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"threshold": 1.5}, "threshold must be"),
        ({"top_k": 0}, "top_k must be"),
        ({"top_k": 2.5}, "top_k must be"),
        ({"nms_sigma": 0.5}, r"Unknown parameters \['nms_sigma'\]"),
    ],
)
def test_bad_parameters_raise_value_errors(localizer, parameters, message):
    with pytest.raises(ValueError, match=message):
        localizer(make_video(), **parameters)


def test_empty_list_gives_empty_list(localizer):
    assert localizer([]) == []


def test_a_longer_duration_only_warns(localizer, caplog):
    with caplog.at_level("WARNING"):
        events = localizer({**make_video(num_steps=20), "duration": 60.0, "video_id": "v12"}, threshold=0.0)
    assert events and "video 'v12': 20 feature steps, but a 60.00 s video gives" in caplog.text


def test_long_videos_run_window_by_window(parts, localizer):
    """A video 20 x max_seq_len long: the model never sees more than max_seq_len steps, events come from the first
    and the last windows, and the pipeline gives what the feature extractor's windows and post-processing give."""
    model, extractor = parts
    num_steps = 20 * extractor.max_seq_len
    video = make_video(num_steps=num_steps, seed=7)
    lengths = []
    hook = model.loco.register_forward_hook(lambda module, args, output: lengths.append(output.padded_length))
    try:
        events = localizer(video, threshold=0.0, top_k=1000)
    finally:
        hook.remove()
    assert max(lengths) == extractor.max_seq_len and len(lengths) > 20
    window_seconds = extractor.steps_to_seconds(extractor.max_seq_len)
    assert min(event["start"] for event in events) < window_seconds
    assert max(event["end"] for event in events) > default_duration(num_steps, extractor) - window_seconds
    inputs = extractor(video["visual_features"], video["audio_features"], return_tensors="pt")
    with torch.no_grad():
        outputs = extractor.forward_in_windows(model, inputs)
    (expected,) = extractor.post_process_event_localization(
        outputs, [default_duration(num_steps, extractor)], max_detections=1000
    )
    assert sorted(event["score"] for event in events) == pytest.approx(sorted(expected["scores"].tolist()))


def test_checkpoint_files_that_disagree_refuse_to_load(saved_checkpoint, tmp_path):
    for name in ("config.json", "model.safetensors"):
        shutil.copy(saved_checkpoint / name, tmp_path / name)
    settings = json.loads((saved_checkpoint / "preprocessor_config.json").read_text())
    for change, message in (
        ({"fps": 12.5}, "fps is 12.5 here but 25.0 in the model"),
        ({"id2label": {**settings["id2label"], "0": "renamed"}}, "id2label\\[0\\] is 'renamed' here"),
    ):
        (tmp_path / "preprocessor_config.json").write_text(json.dumps({**settings, **change}))
        with pytest.raises(ValueError, match=f"preprocessor_config.json.*disagree: {message}"):
            load_pipeline(tmp_path)
    # An edited config.json: the weights hold LAC, the config says use_lac false.
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(settings))
    config = json.loads((saved_checkpoint / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "use_lac": False}))
    with pytest.raises(ValueError, match="holds LAC weights .* use_lac=False"):
        load_pipeline(tmp_path)


# ---- saving and loading -------------------------------------------------------------------------------------------


# What config.json must hold for `pipeline(model=..., trust_remote_code=True)` to find the task by itself.
CUSTOM_PIPELINES = {
    TASK: {
        "impl": "pipeline_loco.AudioVisualEventLocalizationPipeline",
        "pt": ["AutoModel"],
        "type": "multimodal",
    }
}


@pytest.fixture(scope="module")
def saved_checkpoint(parts, tmp_path_factory):
    directory = tmp_path_factory.mktemp("checkpoint")
    save_pipeline(*parts, directory)
    return directory


def test_save_pipeline_writes_code_and_custom_pipelines(saved_checkpoint, localizer):
    names = {path.name for path in saved_checkpoint.iterdir()}
    assert {
        "config.json", "model.safetensors", "preprocessor_config.json", "pipeline_loco.py", "modeling_loco.py",
        "configuration_loco.py", "feature_extraction_loco.py",
    } <= names  # fmt: skip
    config = json.loads((saved_checkpoint / "config.json").read_text())
    assert config["custom_pipelines"] == CUSTOM_PIPELINES
    assert config["auto_map"]["AutoModel"] == "modeling_loco.LocoForEventLocalization"
    # The pipeline code is Hub-portable: no import of loco_hf, and the modules it imports relatively are saved too.
    source = (saved_checkpoint / "pipeline_loco.py").read_text()
    assert "loco_hf" not in source
    relative_imports = set(re.findall(r"^from \.(\w+) import", source, flags=re.MULTILINE))
    assert relative_imports and relative_imports <= {path.stem for path in saved_checkpoint.glob("*.py")}
    reloaded = load_pipeline(saved_checkpoint)
    assert isinstance(reloaded, AudioVisualEventLocalizationPipeline)
    video = make_video(num_steps=30, seed=5)
    assert reloaded(video, threshold=0.0) == localizer(video, threshold=0.0)


FRESH_PROCESS = """
import json, sys
import numpy as np
from huggingface_hub import HfApi
from transformers import pipeline

video = {key: np.asarray(value, dtype=np.float32) for key, value in ARGS["video"].items()}
from_directory = pipeline(model=ARGS["directory"], trust_remote_code=True)
api = HfApi()
repo_id = api.create_repo("loco-tiny").repo_id
api.upload_folder(repo_id=repo_id, folder_path=ARGS["directory"])
from_hub = pipeline(model=repo_id, trust_remote_code=True)
print(json.dumps({
    "loco_hf_imported": any(name.split(".")[0] == "loco_hf" for name in sys.modules),
    "classes": [type(p).__module__.split(".")[0] + ":" + type(p).__name__ for p in (from_directory, from_hub)],
    "directory": from_directory(video, threshold=0.0, top_k=8),
    "hub": from_hub([video, video], threshold=0.0, top_k=8),
}))
"""


def test_fresh_process_loads_from_directory_and_hub(saved_checkpoint, localizer, tmp_path):
    """`pipeline(model=..., trust_remote_code=True)` without loco-hf imported: from the folder, then from the Hub."""
    video = make_video(num_steps=30, seed=6)
    expected = localizer(video, threshold=0.0, top_k=8)
    server, url = serve()
    try:
        arguments = {"directory": str(saved_checkpoint), "video": {k: v.tolist() for k, v in video.items()}}
        result = subprocess.run(
            [sys.executable, "-c", "import json, sys\nARGS = json.loads(sys.argv[1])\n" + textwrap.dedent(FRESH_PROCESS),
             json.dumps(arguments)],
            env={**hub_environment(url, tmp_path / "hf_home"), "OMP_NUM_THREADS": "1"}, cwd=tmp_path, stdout=subprocess.PIPE, text=True,
            timeout=240,
        )  # fmt: skip
    finally:
        stop(server)
    assert result.returncode == 0, "the client failed: its traceback is in the captured stderr"
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["loco_hf_imported"] is False
    assert loaded["classes"] == ["transformers_modules:AudioVisualEventLocalizationPipeline"] * 2
    for events in (loaded["directory"], *loaded["hub"]):
        assert [e["label"] for e in events] == [e["label"] for e in expected]
        for got, want in zip(events, expected, strict=True):
            assert all(
                math.isclose(got[k], want[k], rel_tol=1e-5, abs_tol=1e-5) for k in ("start", "end", "score")
            )


# ---- every save route gives a pipeline checkpoint -----------------------------------------------------------------


def test_model_save_pretrained_alone_records_and_copies_the_pipeline(parts, localizer, tmp_path, caplog):
    """`model.save_pretrained` (what `push_to_hub` calls) writes the pipeline code and `custom_pipelines` itself."""
    model, _ = parts
    model.save_pretrained(tmp_path)
    names = {path.name for path in tmp_path.iterdir()}
    assert {
        "pipeline_loco.py",
        "feature_extraction_loco.py",
        "modeling_loco.py",
        "configuration_loco.py",
    } <= names
    assert "preprocessor_config.json" not in names
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["custom_pipelines"] == CUSTOM_PIPELINES
    # Without a saved feature extractor the pipeline builds the one matching the model config, and says so.
    with caplog.at_level(logging.WARNING, logger="transformers.loco_hf.pipeline_loco"):
        reloaded = load_pipeline(tmp_path)
    assert "No feature extractor was given or could be loaded" in caplog.text
    assert (
        reloaded.feature_extractor.to_dict() == LocoFeatureExtractor.from_model_config(model.config).to_dict()
    )
    video = make_video(num_steps=30, seed=7)
    assert reloaded(video, threshold=0.0) == localizer(video, threshold=0.0)


PUSH_CLIENT = """
import json, sys
from loco_hf import LocoFeatureExtractor, LocoForEventLocalization

model = LocoForEventLocalization.from_pretrained(ARGS["model_only"])
model.push_to_hub("loco-pushed-model")
model.save_pretrained(ARGS["saved_and_pushed"], push_to_hub=True, repo_id="loco-saved-and-pushed")
extractor = LocoFeatureExtractor.from_pretrained(ARGS["with_extractor"])
extractor.push_to_hub("loco-saved-and-pushed")
print(json.dumps("pushed"))
"""

LOAD_EVERY_ROUTE = """
import json, sys
import numpy as np
from transformers import pipeline

video = {key: np.asarray(value, dtype=np.float32) for key, value in ARGS["video"].items()}
results, classes = {}, set()
for route, model in ARGS["routes"].items():
    localizer = pipeline(model=model, trust_remote_code=True)
    classes.add(type(localizer).__module__.split(".")[0] + ":" + type(localizer).__name__)
    results[route] = localizer(video, threshold=0.0)
print(json.dumps({
    "loco_hf_imported": any(name.split(".")[0] == "loco_hf" for name in sys.modules),
    "classes": sorted(classes),
    "results": results,
}))
"""


def run_client(script: str, environment: dict, cwd, **arguments) -> object:
    """Runs `script` in a fresh interpreter (it reads `ARGS`) and returns the JSON of its last output line."""
    result = subprocess.run(
        [sys.executable, "-c", "import json, sys\nARGS = json.loads(sys.argv[1])\n" + textwrap.dedent(script),
         json.dumps(arguments)],
        env={**environment, "OMP_NUM_THREADS": "1"}, cwd=cwd, stdout=subprocess.PIPE, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, "the client failed: its traceback is in the captured stderr"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_save_route_loads_in_a_fresh_process(parts, tmp_path):
    """model.save_pretrained alone, model + feature extractor save_pretrained, model.push_to_hub alone and
    save_pretrained(push_to_hub=True) + feature_extractor.push_to_hub: each loads with `pipeline(model=...,
    trust_remote_code=True)` in an interpreter that never imports loco_hf."""
    model, extractor = parts
    # A feature extractor with its own post-processing settings, so the test sees whether it travelled.
    tuned = LocoFeatureExtractor.from_model_config(model.config, max_detections=5)
    model.save_pretrained(tmp_path / "model_only")
    model.save_pretrained(tmp_path / "with_extractor")
    tuned.save_pretrained(tmp_path / "with_extractor")
    video = make_video(num_steps=30, seed=8)
    expected = {
        "default": pipeline(TASK, model=model, feature_extractor=extractor)(video, threshold=0.0),
        "tuned": pipeline(TASK, model=model, feature_extractor=tuned)(video, threshold=0.0),
    }
    assert len(expected["tuned"]) == 5 < len(expected["default"])
    routes = {
        "model_only": (str(tmp_path / "model_only"), "default"),
        "with_extractor": (str(tmp_path / "with_extractor"), "tuned"),
        "pushed_model": ("dummy/loco-pushed-model", "default"),
        "saved_and_pushed": ("dummy/loco-saved-and-pushed", "tuned"),
    }
    server, url = serve()
    try:
        run_client(
            PUSH_CLIENT, hub_environment(url, tmp_path / "home_push"), tmp_path,
            model_only=routes["model_only"][0], with_extractor=routes["with_extractor"][0],
            saved_and_pushed=str(tmp_path / "saved_and_pushed"),
        )  # fmt: skip
        loaded = run_client(
            LOAD_EVERY_ROUTE, hub_environment(url, tmp_path / "home_load"), tmp_path,
            routes={route: model_id for route, (model_id, _) in routes.items()},
            video={key: value.tolist() for key, value in video.items()},
        )  # fmt: skip
    finally:
        stop(server)
    assert loaded["loco_hf_imported"] is False
    assert loaded["classes"] == ["transformers_modules:AudioVisualEventLocalizationPipeline"]
    for route, (_, extractor_kind) in routes.items():
        events, want = loaded["results"][route], expected[extractor_kind]
        assert [e["label"] for e in events] == [e["label"] for e in want], route
        for got, wanted in zip(events, want, strict=True):
            assert all(
                math.isclose(got[k], wanted[k], rel_tol=1e-5, abs_tol=1e-5) for k in ("start", "end", "score")
            ), route
