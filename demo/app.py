# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""Gradio demo of LoCo dense audio-visual event localization, runnable locally or as a Hugging Face Space.

    pip install "loco-hf[demo]"
    python demo/app.py --model path/or/repo-id            # or set LOCO_MODEL; opens http://127.0.0.1:7860

Pick a synthetic example video (generated on the fly by `loco_hf.data.synthetic`, with the `small` preset's feature
sizes: 256 visual and 128 audio channels) or upload a pair of `.npy` feature files on the checkpoint's time grid;
the app shows the events on a timeline (ground truth too, for the synthetic examples) and as a table.

The logic lives in plain functions (`load_localizer`, `localize`) that need neither gradio nor a browser, so tests
call them directly; `build_demo` imports gradio only when it is called.

Without `--model` or LOCO_MODEL the app falls back to an untrained `small`-preset model, whose events are random:
it says so above the results.
"""

import argparse
import logging
import os
from dataclasses import dataclass

from transformers.utils import logging as transformers_logging

from loco_hf import LocoConfig, LocoFeatureExtractor, LocoForEventLocalization
from loco_hf.data import SyntheticUnAVConfig, generate_synthetic_video
from loco_hf.pipeline_loco import DEFAULT_THRESHOLD, AudioVisualEventLocalizationPipeline, load_pipeline
from loco_hf.plotting import plot_event_timeline

# Under transformers' logger, as the package's loggers are (transformers.logging.set_verbosity_* applies).
logger = transformers_logging.get_logger("transformers.loco_hf.demo")

# Synthetic test-split videos (seed 0) with one to eight events of one to four classes, and their menu names.
EXAMPLE_VIDEOS = {
    f"synthetic test video {index} ({video.duration:.0f} s, {len(video.labels)} events)": index
    for index, video in ((i, generate_synthetic_video(i)) for i in (9, 4, 14, 29, 59))
}
UNTRAINED_WARNING = (
    "**Untrained model**: no checkpoint was given (`--model` or the LOCO_MODEL variable), so the events are random "
    "and score about 0.01 (set the threshold to 0 to see them). Point the app at a trained checkpoint for real "
    "predictions."
)
TABLE_HEADERS = ["label", "start (s)", "end (s)", "score"]


@dataclass
class DemoState:
    """What the app needs between calls: the pipeline, and whether its model is untrained."""

    localizer: AudioVisualEventLocalizationPipeline
    untrained: bool = False


@dataclass
class DemoResult:
    """The outputs of one request: the timeline figure, the event table rows and a Markdown summary."""

    figure: object
    rows: list[list]
    summary: str


def load_localizer(model: str | None = None, device: str | None = None) -> DemoState:
    """
    Loads the checkpoint `model` (a directory or Hub repo id; default: the LOCO_MODEL environment variable) as an
    `AudioVisualEventLocalizationPipeline`; without one, builds an untrained `small`-preset model.
    """
    model = model or os.environ.get("LOCO_MODEL")
    if model:
        return DemoState(load_pipeline(model, device=device))
    logger.warning("No checkpoint given (--model or LOCO_MODEL): using an untrained small-preset model.")
    # The examples are synthetic videos, so the untrained model's lanes carry the synthetic class names.
    config = LocoConfig.from_preset("small", id2label=dict(enumerate(SyntheticUnAVConfig().class_names)))
    localizer = AudioVisualEventLocalizationPipeline(
        model=LocoForEventLocalization(config).eval(),
        feature_extractor=LocoFeatureExtractor.from_model_config(config),
        device=device,
    )
    return DemoState(localizer, untrained=True)


def localize(
    state: DemoState,
    example: str | None = None,
    visual_file: str | None = None,
    audio_file: str | None = None,
    duration: float | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> DemoResult:
    """
    Runs the pipeline on uploaded `.npy` features (when both files are given) or on a synthetic example.

    Args:
        state (`DemoState`): from `load_localizer`.
        example (`str`, *optional*): a key of `EXAMPLE_VIDEOS`; used when no files are uploaded.
        visual_file, audio_file (`str`, *optional*): paths of `.npy` files of shape `(T, visual_dim)` and
            `(T, audio_dim)`.
        duration (`float`, *optional*): duration of the uploaded video in seconds (0 or None: from the features).
        threshold (`float`): lowest score of the events shown.

    Returns:
        `DemoResult`: the timeline, the table rows (label, start, end, score; by start time) and a summary.

    Raises:
        ValueError: with a message for the user (one file missing, no input, bad features).
    """
    localizer = state.localizer
    if visual_file or audio_file:
        if not (visual_file and audio_file):
            raise ValueError("Upload both the visual and the audio .npy features of the video.")
        name = os.path.splitext(os.path.basename(visual_file))[0]
        inputs = {"visual_features": visual_file, "audio_features": audio_file, "video_id": name}
        if duration:
            inputs["duration"] = float(duration)
        ground_truth = None
    elif example:
        if example not in EXAMPLE_VIDEOS:
            raise ValueError(f"Unknown example {example!r}; pick one of the list.")
        extractor = localizer.feature_extractor
        config = SyntheticUnAVConfig(
            num_classes=extractor.num_labels, visual_dim=extractor.visual_dim, audio_dim=extractor.audio_dim
        )
        if (config.fps, config.feature_stride, config.feature_window) != (
            extractor.fps, extractor.feature_stride, extractor.feature_window,
        ):  # fmt: skip
            raise ValueError("The synthetic examples use the UnAV time grid (25 fps, stride 8, window 24).")
        video = generate_synthetic_video(EXAMPLE_VIDEOS[example], config)
        name = example
        inputs = {
            "visual_features": video.visual_features,
            "audio_features": video.audio_features,
            "duration": video.duration,
            "video_id": video.video_id,
        }
        ground_truth = {"segments": video.segments, "labels": video.labels}
    else:
        raise ValueError("Pick a synthetic example or upload the two .npy feature files.")

    result = localizer(inputs, threshold=float(threshold), return_duration=True)
    events, video_duration = result["events"], result["duration"]
    figure = plot_event_timeline(
        events,
        ground_truth,
        duration=video_duration,
        id2label=localizer.feature_extractor.id2label,
        title=name,
    )
    rows = [
        [event["label"], round(event["start"], 2), round(event["end"], 2), round(event["score"], 3)]
        for event in events
    ]
    summary = f"**{len(events)} event{'s' * (len(events) != 1)}** with score >= {threshold:.2f} in {video_duration:.1f} s"
    if ground_truth is not None:
        summary += f"; {len(ground_truth['labels'])} annotated events (dark bars)"
    summary += "."
    if state.untrained:
        summary = UNTRAINED_WARNING + "\n\n" + summary
    return DemoResult(figure, rows, summary)


def build_demo(state: DemoState):
    """Builds the gradio Blocks app around `localize` (imports gradio)."""
    import gradio as gr

    def run(example, visual_file, audio_file, duration, threshold):
        try:
            result = localize(state, example, visual_file, audio_file, duration, threshold)
        except ValueError as error:
            raise gr.Error(str(error)) from None
        return result.figure, result.rows, result.summary

    extractor = state.localizer.feature_extractor
    # The first example's result is computed once here, so the page opens with it instead of a spinner.
    first_example = next(iter(EXAMPLE_VIDEOS))
    try:
        initial = localize(state, example=first_example)
    except ValueError as error:  # a checkpoint whose features do not fit the synthetic examples
        logger.warning("No initial result: %s", error)
        initial = DemoResult(None, [], "")
    with gr.Blocks(title="LoCo: dense audio-visual event localization") as demo:
        gr.Markdown(
            "# LoCo: dense audio-visual event localization\n"
            "Finds which sound-and-sight events happen in a video and when, from pre-extracted features "
            "([paper](https://arxiv.org/abs/2409.07967)). Pick a synthetic example, or upload the visual "
            f"`(T, {extractor.visual_dim})` and audio `(T, {extractor.audio_dim})` features of a video as `.npy` "
            f"files (one step every {extractor.steps_to_seconds(1) - extractor.steps_to_seconds(0):.2f} s)."
        )
        with gr.Row():
            with gr.Column(scale=1):
                example = gr.Dropdown(list(EXAMPLE_VIDEOS), value=first_example, label="Synthetic example")
                with gr.Accordion("or upload features", open=False):
                    visual_file = gr.File(
                        label="visual features (.npy)", file_types=[".npy"], type="filepath"
                    )
                    audio_file = gr.File(label="audio features (.npy)", file_types=[".npy"], type="filepath")
                    duration = gr.Number(label="duration in seconds (optional)", value=None, minimum=0)
                threshold = gr.Slider(0.0, 1.0, value=DEFAULT_THRESHOLD, step=0.01, label="score threshold")
                button = gr.Button("Localize events", variant="primary")
            with gr.Column(scale=3):
                summary = gr.Markdown(initial.summary)
                timeline = gr.Plot(initial.figure, label="timeline", show_label=False)
                table = gr.Dataframe(initial.rows, headers=TABLE_HEADERS, label="events", interactive=False)
        inputs = [example, visual_file, audio_file, duration, threshold]
        outputs = [timeline, table, summary]
        button.click(run, inputs, outputs)
    return demo


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Gradio demo of LoCo dense audio-visual event localization.")
    parser.add_argument("--model", help="checkpoint directory or Hub repo id (default: $LOCO_MODEL)")
    parser.add_argument("--device", default=None, help='torch device, e.g. "cuda:0"')
    parser.add_argument("--server-name", default=None, help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--server-port", type=int, default=None, help="port (default 7860)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    demo = build_demo(load_localizer(args.model, args.device))
    demo.launch(server_name=args.server_name, server_port=args.server_port)


if __name__ == "__main__":
    main()
