"""Tests of batching and the training crop (loco_hf.data.collate)."""

import math

import numpy as np
import pytest
import torch

from loco_hf.configuration_loco import LocoConfig
from loco_hf.data.collate import LengthGroupedSampler, LocoDataCollator, crop_video, video_lengths
from loco_hf.data.synthetic import synthetic_unav
from loco_hf.feature_extraction_loco import LocoFeatureExtractor


@pytest.fixture(scope="module")
def feature_extractor() -> LocoFeatureExtractor:
    return LocoFeatureExtractor.from_model_config(LocoConfig.from_preset("small"))


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[dict]:
    dataset = synthetic_unav(12, split="train", cache_dir=str(tmp_path_factory.mktemp("cache")))
    return list(dataset.with_format("numpy"))


def long_row(num_steps: int = 300) -> dict:
    """A video longer than max_seq_len (224): 300 steps = 96.2 s on the 0.32 s grid."""
    duration = ((num_steps - 1) * 8 + 24) / 25
    rng = np.random.default_rng(0)
    return {
        "video_id": "long",
        "duration": np.float32(duration),
        "visual_features": rng.standard_normal((num_steps, 256)).astype(np.float32),
        "audio_features": rng.standard_normal((num_steps, 128)).astype(np.float32),
        "segments": np.array([[5.0, 20.0], [60.0, 90.0]], dtype=np.float32),
        "labels": np.array([3, 7]),
    }


def to_steps(seconds: np.ndarray) -> np.ndarray:
    """The UnAV time mapping, written out: g = (t * 25 - 12) / 8."""
    return (np.asarray(seconds, dtype=np.float64) * 25.0 - 12.0) / 8.0


# ------------------------------------------------------------------------------------------------------------
# Evaluation batches
# ------------------------------------------------------------------------------------------------------------


def test_ragged_batch_shapes_masks_and_labels(feature_extractor, rows):
    batch_rows = [rows[0], rows[1], rows[2], long_row()]
    batch = LocoDataCollator(feature_extractor)(batch_rows)
    lengths = [len(row["visual_features"]) for row in batch_rows]
    padded = max(224, math.ceil(max(lengths) / 32) * 32)
    assert padded == 320
    assert batch["visual_features"].shape == (4, padded, 256)
    assert batch["audio_features"].shape == (4, padded, 128)
    assert batch["attention_mask"].dtype == torch.int64
    assert batch["attention_mask"].sum(dim=1).tolist() == lengths
    for index, length in enumerate(lengths):
        np.testing.assert_array_equal(
            batch["visual_features"][index, :length].numpy(), batch_rows[index]["visual_features"]
        )
        assert (
            not batch["visual_features"][index, length:].any()
            and not batch["audio_features"][index, length:].any()
        )
    assert batch["video_ids"] == [str(row["video_id"]) for row in batch_rows]
    assert batch["durations"].dtype == torch.float32
    np.testing.assert_allclose(batch["durations"].numpy(), [row["duration"] for row in batch_rows])
    for labels, row in zip(batch["labels"], batch_rows, strict=True):
        assert labels["class_labels"].dtype == torch.int64 and labels["segments"].dtype == torch.float32
        assert labels["class_labels"].tolist() == row["labels"].tolist()
        np.testing.assert_allclose(
            labels["segments"].numpy(), to_steps(row["segments"]), rtol=1e-5, atol=1e-5
        )


def test_float16_rows_and_dataloader(feature_extractor, tmp_path):
    dataset = synthetic_unav(10, split="train", feature_dtype="float16", cache_dir=str(tmp_path))
    loader = torch.utils.data.DataLoader(
        dataset.with_format("numpy"),
        batch_size=4,
        collate_fn=LocoDataCollator(feature_extractor, training=True),
    )
    batch = next(iter(loader))
    assert batch["visual_features"].dtype == torch.float32
    assert batch["visual_features"].shape == (4, 224, 256) and len(batch["labels"]) == 4


# ------------------------------------------------------------------------------------------------------------
# Training crop
# ------------------------------------------------------------------------------------------------------------


def test_training_pads_to_max_seq_len_and_crops_long_videos(feature_extractor, rows):
    torch.manual_seed(0)
    batch = LocoDataCollator(feature_extractor, training=True)([rows[0], long_row(), rows[3]])
    assert batch["visual_features"].shape == (3, 224, 256)
    assert batch["attention_mask"][1].sum() == 224  # the 300-step video is cropped, never an error
    for index, row in ((0, rows[0]), (2, rows[3])):
        length = len(row["visual_features"])
        assert round(0.9 * length) <= batch["attention_mask"][index].sum() <= length
    for labels, length in zip(batch["labels"], batch["attention_mask"].sum(dim=1).tolist(), strict=True):
        if len(labels["segments"]):
            # a kept event was clipped to the window, unless the video was not cropped at all
            assert labels["segments"].min() >= -1.5 and labels["segments"].max() <= length + 1e-4


def crop_oracle(start: int, window: int, segments: np.ndarray, threshold: float) -> np.ndarray:
    """Which events a window keeps, with a plain loop."""
    keep = []
    for seg_start, seg_end in segments:
        inside = max(0.0, min(seg_end, start + window) - max(seg_start, start))
        keep.append(inside / (seg_end - seg_start) >= threshold)
    return np.array(keep, dtype=bool)


@pytest.mark.parametrize("length", [150, 300])
def test_crop_keeps_events_at_least_half_inside_and_clips_them(length):
    segments = torch.tensor([[-1.5, 10.0], [20.0, 40.0], [100.0, 145.0], [140.0, 149.0], [5.0, 6.0]])
    class_labels = torch.arange(5)
    windows, cropped_any = set(), False
    for seed in range(200):
        torch.manual_seed(seed)
        start, end, kept_segments, kept_labels = crop_video(length, segments, class_labels, max_seq_len=224)
        window = end - start
        windows.add(window)
        assert start >= 0 and end <= length
        if length > 224:
            assert window == 224
        else:
            assert round(0.9 * length) <= window <= length
        if window == length:  # a full-length draw leaves the video untouched
            assert torch.equal(kept_segments, segments) and torch.equal(kept_labels, class_labels)
            continue
        cropped_any = True
        keep = crop_oracle(start, window, segments.numpy(), 0.5)
        assert keep.any()
        assert kept_labels.tolist() == class_labels[torch.from_numpy(keep)].tolist()
        expected = np.clip(segments.numpy()[keep], start, end) - start
        np.testing.assert_allclose(kept_segments.numpy(), expected)
        assert kept_segments.min() >= 0 and kept_segments.max() <= window
    assert cropped_any
    if length <= 224:
        assert len(windows) > 1
    else:
        assert windows == {224}


def test_crop_falls_back_to_the_last_window_and_handles_no_events():
    segments = torch.tensor([[0.0, 280.0]])  # can never be 95 % inside a 224-step window
    torch.manual_seed(0)
    start, end, kept_segments, kept_labels = crop_video(
        300, segments, torch.tensor([2]), 224, truncation_threshold=0.95
    )
    assert end - start == 224 and kept_segments.shape == (0, 2) and kept_labels.shape == (0,)
    empty = torch.zeros(0, 2)
    start, end, kept_segments, kept_labels = crop_video(300, empty, torch.zeros(0, dtype=torch.long), 224)
    assert end - start == 224 and kept_segments.shape == (0, 2)


def test_training_batches_are_deterministic_under_torch_manual_seed(feature_extractor, rows):
    collator = LocoDataCollator(feature_extractor, training=True)
    batch_rows = rows[:8]
    torch.manual_seed(123)
    first = collator(batch_rows)
    torch.manual_seed(123)
    second = collator(batch_rows)
    assert torch.equal(first["attention_mask"], second["attention_mask"])
    assert torch.equal(first["visual_features"], second["visual_features"])
    for a, b in zip(first["labels"], second["labels"], strict=True):
        assert torch.equal(a["segments"], b["segments"]) and torch.equal(a["class_labels"], b["class_labels"])

    # the crop follows torch's global generator, so restoring its state (as accelerate's load_state does) resumes
    state = torch.get_rng_state()
    after_state = collator(batch_rows)
    torch.set_rng_state(state)
    resumed = collator(batch_rows)
    assert torch.equal(after_state["attention_mask"], resumed["attention_mask"])
    torch.manual_seed(7)
    different = [collator(batch_rows)["attention_mask"].sum(dim=1) for _ in range(3)]
    assert any(not torch.equal(d, first["attention_mask"].sum(dim=1)) for d in different)


def test_longest_padding_keeps_crops_and_labels(feature_extractor, rows):
    """Padding a training batch only to its longest video changes the amount of padding, not the crops or labels."""
    batch_rows = rows[:4]
    batches = {}
    for padding in ("max_length", "longest"):
        torch.manual_seed(5)
        batches[padding] = LocoDataCollator(feature_extractor, training=True, padding=padding)(batch_rows)
    full, short = batches["max_length"], batches["longest"]
    lengths = full["attention_mask"].sum(dim=1)
    assert full["visual_features"].shape[1] == 224
    assert short["visual_features"].shape[1] == math.ceil(int(lengths.max()) / 32) * 32 < 224
    assert torch.equal(short["attention_mask"].sum(dim=1), lengths)
    padded = short["visual_features"].shape[1]
    for name in ("visual_features", "audio_features", "attention_mask"):
        assert torch.equal(short[name], full[name][:, :padded]) and not full[name][:, padded:].any()
    for a, b in zip(full["labels"], short["labels"], strict=True):
        assert torch.equal(a["segments"], b["segments"]) and torch.equal(a["class_labels"], b["class_labels"])


def test_video_lengths_match_the_features(rows, tmp_path):
    dataset = synthetic_unav(12, split="train", cache_dir=str(tmp_path))
    lengths = np.array([len(row["visual_features"]) for row in rows])
    assert np.abs(np.array(video_lengths(dataset)) - lengths).max() <= 1


def test_length_grouped_sampler_groups_lengths_and_follows_seed_and_epoch():
    lengths = torch.randint(30, 185, (400,), generator=torch.Generator().manual_seed(0)).tolist()
    sampler = LengthGroupedSampler(lengths, batch_size=16, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(400)) and first == list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first and sorted(sampler) == list(range(400))
    assert list(LengthGroupedSampler(lengths, batch_size=16, seed=4)) != first

    def padded_steps(order):  # steps a collator pads the full batches to, summed
        batches = [order[start : start + 16] for start in range(0, len(order) - 15, 16)]
        return sum(16 * max(lengths[index] for index in batch) for batch in batches)

    shuffled = torch.randperm(400, generator=torch.Generator().manual_seed(3)).tolist()
    assert padded_steps(first) < 0.9 * padded_steps(shuffled)
    with pytest.raises(ValueError, match="batch_size"):
        LengthGroupedSampler(lengths, batch_size=0)


def test_invalid_collator_arguments(feature_extractor):
    with pytest.raises(ValueError, match="padding"):
        LocoDataCollator(feature_extractor, padding="max_seq_len")
    with pytest.raises(ValueError, match="crop_ratio"):
        LocoDataCollator(feature_extractor, crop_ratio=(0.0, 1.0))
    with pytest.raises(ValueError, match="truncation_threshold"):
        LocoDataCollator(feature_extractor, truncation_threshold=1.5)
    with pytest.raises(ValueError, match="max_crop_trials"):
        LocoDataCollator(feature_extractor, max_crop_trials=0)
    with pytest.raises(ValueError, match="at least one row"):
        LocoDataCollator(feature_extractor)([])
