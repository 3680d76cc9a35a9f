"""Tests of loco_hf.plotting: event timelines, the error-analysis figure and the worst-video ranking."""

import math
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from loco_hf import plotting  # noqa: E402
from loco_hf.plotting import (  # noqa: E402
    plot_error_analysis,
    plot_event_timeline,
    plot_worst_videos,
    rank_videos,
)

ID2LABEL = {0: "dog barking", 1: "man speaking", 2: "car passing by"}
PREDICTIONS = [
    {"label": "man speaking", "start": 0.5, "end": 4.0, "score": 0.9},
    {"label": "man speaking", "start": 1.0, "end": 3.5, "score": 0.3},  # overlaps: a second row
    {"label": "car passing by", "start": 6.0, "end": 8.0, "score": 0.05},
    {"label": "dog barking", "start": 2.0, "end": 5.0, "score": 0.6},
]
GROUND_TRUTH = {"segments": np.array([[2.2, 5.5], [0.4, 4.2]]), "labels": np.array([0, 1])}


def prediction_bars(figure):
    """The filled prediction bars of a timeline (tagged gid="prediction"): sorted (x, width, alpha)."""
    patches = figure.axes[0].patches
    return sorted((p.get_x(), p.get_width(), p.get_alpha()) for p in patches if p.get_gid() == "prediction")


def test_timeline_lanes_bars_and_opacity(tmp_path):
    figure = plot_event_timeline(
        PREDICTIONS, GROUND_TRUTH, duration=10.0, id2label=ID2LABEL, title="clip", path=tmp_path / "t.png"
    )
    axes = figure.axes[0]
    # Lanes: classes in order of their first ground-truth event, then predicted-only classes.
    assert [label.get_text() for label in axes.get_yticklabels()] == [
        "man speaking",
        "dog barking",
        "car passing by",
    ]
    assert axes.get_xlim() == (0.0, 10.0) and axes.get_xlabel() == "time (s)"
    bars = prediction_bars(figure)
    assert [(round(x, 3), round(w, 3)) for x, w, _ in bars] == [
        (0.5, 3.5),
        (1.0, 2.5),
        (2.0, 3.0),
        (6.0, 2.0),
    ]
    assert [alpha for *_, alpha in bars] == pytest.approx([0.9, 0.3, 0.6, plotting._MIN_ALPHA])
    assert sum(patch.get_gid() == "ground_truth" for patch in axes.patches) == 2
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend[0] == "ground truth" and all("score" in text for text in legend[1:])
    assert (tmp_path / "t.png").stat().st_size > 10_000


def test_timeline_accepts_post_processed_dicts_and_filters_scores():
    predictions = {
        "segments": np.array([[0.5, 4.0], [6.0, 8.0]]),
        "scores": np.array([0.9, 0.05]),
        "labels": np.array([1, 2]),
    }
    figure = plot_event_timeline(predictions, id2label=ID2LABEL, min_score=0.1)
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_yticklabels()] == ["man speaking"]
    assert axes.get_xlim() == (0.0, 4.0)  # default duration: the last event's end
    # Without id2label, class ids are named "class <id>".
    unnamed = plot_event_timeline(None, {"segments": [[1.0, 2.0]], "labels": [7]})
    assert [label.get_text() for label in unnamed.axes[0].get_yticklabels()] == ["class 7"]


def test_empty_timeline():
    figure = plot_event_timeline([], None, duration=12.0)
    assert [text.get_text() for text in figure.axes[0].texts] == ["no events"]


@pytest.mark.parametrize(
    ("predictions", "message"),
    [
        ([{"label": "a", "start": 1.0}], "'label', 'start' and 'end'"),
        ([{"label": "a", "start": 3.0, "end": 1.0, "score": 0.5}], "bad times"),
        ({"segments": [[0.0, 1.0]], "labels": [0, 1], "scores": [0.5]}, "1 segments, 2 labels"),
        ("events", "must be a list of event dicts"),
        ({"segments": [[0.0, 1.0]], "labels": [9]}, "Class id 9"),
    ],
)
def test_timeline_rejects_malformed_events(predictions, message):
    with pytest.raises(ValueError, match=message):
        plot_event_timeline(predictions, id2label=ID2LABEL)


BY_LENGTH = {
    "[0, 2)": {"mAP": [0.1, 0.2], "average_mAP": 0.15, "num_events": 12},
    "[2, 10)": {"mAP": [0.5, 0.4], "average_mAP": 0.45, "num_events": 30},
    "[10, 30)": {"mAP": [math.nan, math.nan], "average_mAP": math.nan, "num_events": 0},
    "[30, inf)": {"mAP": [None, None], "average_mAP": None, "num_events": 0},  # as after a JSON round trip
}
FALSE_POSITIVES = {
    "tiou_threshold": 0.5,
    "num_predictions": 50,
    "num_true_positives": 30,
    "num_false_positives": 20,
    "counts": {"duplicate": 2, "wrong_class": 3, "wrong_location": 10, "confusion": 1, "background": 4},
    "fractions": {
        "duplicate": 0.1,
        "wrong_class": 0.15,
        "wrong_location": 0.5,
        "confusion": 0.05,
        "background": 0.2,
    },
}


def test_error_analysis_figure(tmp_path):
    figure = plot_error_analysis(BY_LENGTH, FALSE_POSITIVES, tmp_path / "errors.png", title="test split")
    length_axes, error_axes = figure.axes
    assert [bar.get_height() for bar in length_axes.patches] == pytest.approx([15.0, 45.0, 0.0, 0.0])
    assert [label.get_text() for label in length_axes.get_xticklabels()] == [
        "< 2 s\n12 events", "2-10 s\n30 events", "10-30 s\n0 events", "> 30 s\n0 events",
    ]  # fmt: skip
    assert sum(text.get_text() == "no events" for text in length_axes.texts) == 2
    assert [bar.get_width() for bar in error_axes.patches] == [2, 3, 10, 1, 4]
    assert "10  (50 %)" in [text.get_text() for text in error_axes.texts]
    assert (tmp_path / "errors.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="lacks 'counts'"):
        plot_error_analysis(BY_LENGTH, {"num_false_positives": 0})


def test_rank_videos_and_worst_video_plots(tmp_path):
    truth = {
        "perfect": {"segments": [[1.0, 3.0]], "labels": [0]},
        "missed_one": {"segments": [[1.0, 3.0]], "labels": [1]},
        "missed_two": {"segments": [[1.0, 3.0], [5.0, 9.0]], "labels": [1, 2]},
        "no_events": {"segments": np.zeros((0, 2)), "labels": []},
    }
    predictions = {
        "perfect": {"segments": [[1.0, 3.0]], "scores": [0.9], "labels": [0]},
        "missed_one": {"segments": [[6.0, 7.0]], "scores": [0.8], "labels": [1]},
        "no_events": {"segments": [[1.0, 2.0]], "scores": [0.5], "labels": [0]},
    }  # "missed_two" has no predictions at all
    ranking = rank_videos(predictions, truth)
    # Ties at AP 0 go to the video with more events; videos without events are left out.
    assert [(v["video_id"], v["average_mAP"], v["num_events"]) for v in ranking] == [
        ("missed_two", 0.0, 2), ("missed_one", 0.0, 1), ("perfect", 1.0, 1),
    ]  # fmt: skip
    written = plot_worst_videos(
        predictions,
        truth,
        tmp_path / "worst",
        durations={"missed_two": 10.0},
        id2label=ID2LABEL,
        num_videos=2,
    )
    assert [v["video_id"] for v in written] == ["missed_two", "missed_one"]
    assert [p.name for p in sorted((tmp_path / "worst").iterdir())] == [
        "worst_1_missed_two.png",
        "worst_2_missed_one.png",
    ]


def test_missing_matplotlib_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"loco-hf\[viz\]"):
        plot_event_timeline(PREDICTIONS)
