# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""The `loco-hf` command: localize events in pre-extracted features, evaluate a checkpoint, train one.

    loco-hf predict path/to/checkpoint --visual video_visual.npy --audio video_audio.npy --plot timeline.png
    loco-hf evaluate --help
    loco-hf train --help

`predict` is implemented here on top of `AudioVisualEventLocalizationPipeline`; `evaluate` and `train` forward
their arguments unchanged to the argument parsers of `loco_hf.training` (the same ones as `scripts/evaluate.py`
and `scripts/train.py`), so `loco-hf train --help` lists every training option.
"""

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["build_parser", "main"]

PREDICT_EXAMPLES = """\
examples:
  # one video; events as JSON on stdout
  loco-hf predict ./loco-unav100 --visual clip_rgb.npy --audio clip_vggish.npy

  # several videos, 5 best events each, a timeline PNG per video and JSON in a file
  loco-hf predict your-org/loco-unav100 --visual a_v.npy b_v.npy --audio a_a.npy b_a.npy \\
      --video-id a b --duration 10.0 8.4 --top-k 5 --plot timeline.png --output events.json

output (JSON):
  {"model": ..., "threshold": 0.1, "top_k": null,
   "videos": [{"video_id": "clip", "duration": 10.0,
               "events": [{"label": "dog barking", "start": 1.28, "end": 4.16, "score": 0.71}, ...]}]}
  start and end are in seconds; events are sorted by start time. With several videos and --plot out.png, the
  timelines go to out_<video_id>.png.
"""

TRAIN_EXAMPLES = """\
examples:
  # the small preset on synthetic data (CPU minutes), written to ./outputs
  loco-hf train

  # LoCo on the UnAV-100 features, then push the result to the Hub
  loco-hf train --preset unav100-i3d-vggish --dataset_dir path/to/unav100 --output_dir outputs/unav100 \\
      --push_to_hub --hub_model_id your-org/loco-unav100

For several processes or GPUs, run `accelerate launch scripts/train.py` with the same options.
"""

TOP_LEVEL_EXAMPLES = """\
examples:
  loco-hf predict ./checkpoint --visual clip_visual.npy --audio clip_audio.npy --plot clip.png
  loco-hf evaluate --help
  loco-hf train --help

Run `loco-hf <command> --help` for the options of a command.
"""


# ---------------------------------------------------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------------------------------------------------


def _add_predict_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="localize audio-visual events in pre-extracted features (.npy) and write them as JSON",
        description=(
            "Localize dense audio-visual events with a LoCo checkpoint. Each video is a pair of .npy files of "
            "pre-extracted per-step features: visual (T, visual_dim) and audio (T, audio_dim), on the checkpoint's "
            "time grid (for UnAV-100 I3D/VGGish features: 25 fps, one feature every 8 frames over a 24-frame "
            "window, i.e. one step every 0.32 s)."
        ),
        epilog=PREDICT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model", help="checkpoint directory or Hub repo id (saved with loco_hf.save_pipeline)"
    )
    parser.add_argument(
        "--visual",
        nargs="+",
        required=True,
        type=Path,
        metavar="NPY",
        help="visual features, one .npy per video",
    )
    parser.add_argument(
        "--audio",
        nargs="+",
        required=True,
        type=Path,
        metavar="NPY",
        help="audio features, in the same order",
    )
    parser.add_argument(
        "--duration",
        nargs="+",
        type=float,
        metavar="SECONDS",
        help="video durations in seconds, one per video (default: the end of the last feature window)",
    )
    parser.add_argument(
        "--video-id", nargs="+", metavar="ID", help="names of the videos (default: the visual files' stems)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="keep events scoring at least this (default 0.1; 0 keeps all, as the evaluation does)",
    )
    parser.add_argument("--top-k", type=int, default=None, help="keep at most this many events per video")
    parser.add_argument("--output", type=Path, help="write the JSON here instead of stdout")
    parser.add_argument(
        "--plot", type=Path, metavar="PNG", help="draw each video's events as a timeline (needs matplotlib)"
    )
    parser.add_argument(
        "--device",
        default=None,
        help='torch device, e.g. "cpu" or "cuda:1" (default: the first GPU if any, else the CPU)',
    )
    parser.add_argument(
        "--revision", default=None, help="Hub revision (branch, tag or commit) of the checkpoint"
    )
    parser.set_defaults(handler=_predict)


def _per_video(values: Sequence | None, count: int, option: str) -> list:
    if values is None:
        return [None] * count
    if len(values) != count:
        raise ValueError(f"{option} needs one value per video ({count}), got {len(values)}.")
    return list(values)


def _predict(args: argparse.Namespace) -> int:
    from .pipeline_loco import DEFAULT_THRESHOLD, load_pipeline

    count = len(args.visual)
    audio = _per_video(args.audio, count, "--audio")
    durations = _per_video(args.duration, count, "--duration")
    video_ids = _per_video(args.video_id, count, "--video-id")
    video_ids = [video_id or path.stem for video_id, path in zip(video_ids, args.visual, strict=True)]
    if len(set(video_ids)) != count:
        raise ValueError(f"Video ids must be unique (pass --video-id), got {video_ids}.")
    if args.plot is not None:
        from .plotting import _matplotlib

        _matplotlib()  # fail before running the model when matplotlib is missing

    options = {} if args.revision is None else {"revision": args.revision}
    localizer = load_pipeline(args.model, device=args.device, **options)
    inputs = []
    for visual, audio_path, duration, video_id in zip(args.visual, audio, durations, video_ids, strict=True):
        video = {"visual_features": visual, "audio_features": audio_path, "video_id": video_id}
        if duration is not None:
            video["duration"] = duration
        inputs.append(video)
    parameters = {"threshold": args.threshold, "top_k": args.top_k}
    results = localizer(inputs, **{name: value for name, value in parameters.items() if value is not None})

    videos = []
    for video, events in zip(inputs, results, strict=True):
        duration = video.get("duration")
        if duration is None:
            num_steps = min(
                len(np.load(path, mmap_mode="r"))
                for path in (video["visual_features"], video["audio_features"])
            )
            duration = localizer.default_duration(num_steps)
        videos.append(
            {
                "video_id": video["video_id"],
                "visual_features": str(video["visual_features"]),
                "audio_features": str(video["audio_features"]),
                "duration": round(float(duration), 3),
                "events": [
                    {
                        **event,
                        "start": round(event["start"], 3),
                        "end": round(event["end"], 3),
                        "score": round(event["score"], 4),
                    }
                    for event in events
                ],
            }
        )
    report = {
        "model": str(args.model),
        "threshold": DEFAULT_THRESHOLD if args.threshold is None else args.threshold,
        "top_k": args.top_k,
        "videos": videos,
    }
    text = json.dumps(report, indent=2)
    if args.output is None:
        print(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n")
        # Status lines go to stderr, so that stdout holds nothing but the JSON when there is no --output.
        print(
            f"Wrote {sum(len(v['events']) for v in videos)} events of {count} video(s) to {args.output}",
            file=sys.stderr,
        )

    if args.plot is not None:
        from .plotting import plot_event_timeline

        for video in videos:
            path = args.plot
            if count > 1:
                safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in video["video_id"])
                path = args.plot.with_name(f"{args.plot.stem}_{safe_id}{args.plot.suffix or '.png'}")
            plot_event_timeline(
                video["events"],
                duration=video["duration"],
                title=f"{video['video_id']}: predicted events",
                path=path,
            )
            print(f"Wrote the timeline of {video['video_id']} to {path}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# train and evaluate: forwarded to loco_hf.training
# ---------------------------------------------------------------------------------------------------------------------


def _import_training():
    try:
        from . import training
    except ImportError as error:
        raise SystemExit(
            f"loco-hf: the training module could not be imported ({error}); install loco-hf with its dependencies."
        ) from error
    return training


def _train(argv: list[str]) -> int:
    """`loco-hf train ARGS`: parses a `TrainingConfig` from ARGS and calls `loco_hf.training.train`."""
    from transformers import HfArgumentParser

    training = _import_training()
    parser = HfArgumentParser(
        training.TrainingConfig,
        prog="loco-hf train",
        description=(
            "Train a LoCo model with Accelerate, on synthetic UnAV-style data (the default) or on UnAV-100 "
            "features, and write a from_pretrained checkpoint with its pipeline code, model card and metrics. "
            "The options are those of scripts/train.py; recipe options left unset take the preset's values."
        ),
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    (config,) = parser.parse_args_into_dataclasses(args=argv)
    training.train(config)
    return 0


def _evaluate(argv: list[str]) -> int:
    """`loco-hf evaluate ARGS`: forwards ARGS to the evaluation entry point of `loco_hf.training`."""
    training = _import_training()
    return training.evaluate_main(argv) or 0


FORWARDED_COMMANDS = {"train": _train, "evaluate": _evaluate}


# ---------------------------------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------------------------------


def _package_version() -> str:
    try:
        return version("loco-hf")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The `loco-hf` argument parser (train and evaluate are listed; their options belong to loco_hf.training)."""
    parser = argparse.ArgumentParser(
        prog="loco-hf",
        description="LoCo: dense audio-visual event localization (arXiv 2409.07967) with Hugging Face tools.",
        epilog=TOP_LEVEL_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_package_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    _add_predict_parser(subparsers)
    subparsers.add_parser(
        "evaluate", help="evaluate a checkpoint on a split: mAP, error analysis, worst-video timelines"
    )
    subparsers.add_parser("train", help="train a LoCo model (options: loco-hf train --help)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `loco-hf`; returns the exit status (argument errors exit with status 2, bad input with 1)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in argv[:1] or "--verbose" in argv[:1]
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if verbose:
        argv = argv[1:]
    if argv and argv[0] in FORWARDED_COMMANDS:
        return FORWARDED_COMMANDS[argv[0]](argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as error:
        print(f"loco-hf {args.command}: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
