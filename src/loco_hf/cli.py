# Copyright 2026 The loco-hf authors. Licensed under the MIT licence.
"""The command-line entry points: `train_main`, `evaluate_main`, `predict_main` and `convert_main`, one per
command, and `main`, the `loco-hf` command that dispatches to them.

    loco-hf predict path/to/checkpoint --visual video_visual.npy --audio video_audio.npy --plot timeline.png
    loco-hf evaluate --help
    loco-hf train --help
    loco-hf convert --checkpoint unav.pth.tar --output_dir unav-baseline-converted

`scripts/train.py`, `scripts/evaluate.py`, `scripts/predict.py` and `scripts/convert_unav_checkpoint.py` call the
same functions, and so does
`accelerate launch scripts/train.py`: each command has one parser, one output and one option style (snake_case;
`predict`'s old kebab-case spellings `--video-id` and `--top-k` still work, with a FutureWarning). `train` and
`evaluate` parse the fields of `loco_hf.training.TrainingConfig` / `EvaluationConfig` with `HfArgumentParser`.
Results go to stdout (the mAP table and the output paths; `predict`'s JSON), status lines and logs to stderr.
"""

import argparse
import json
import logging
import sys
import warnings
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["build_parser", "convert_main", "evaluate_main", "main", "predict_main", "train_main"]

PREDICT_EXAMPLES = """\
examples:
  # one video; events as JSON on stdout
  loco-hf predict ./loco-unav100 --visual clip_rgb.npy --audio clip_vggish.npy

  # several videos, 5 best events each, a timeline PNG per video and JSON in a file
  loco-hf predict your-org/loco-unav100 --visual a_v.npy b_v.npy --audio a_a.npy b_a.npy \\
      --video_id a b --duration 10.0 8.4 --top_k 5 --plot timeline.png --output events.json

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

For several processes or GPUs, run `accelerate launch scripts/train.py` with the same options
(on CPU processes: ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N scripts/train.py).
"""

TOP_LEVEL_EXAMPLES = """\
examples:
  loco-hf predict ./checkpoint --visual clip_visual.npy --audio clip_audio.npy --plot clip.png
  loco-hf evaluate --help
  loco-hf train --help
  loco-hf convert --checkpoint unav.pth.tar --output_dir unav-baseline-converted

Run `loco-hf <command> --help` for the options of a command.
"""


EVALUATE_EXAMPLES = """\
examples:
  loco-hf evaluate --model outputs --split test
  loco-hf evaluate --model your-org/loco-unav100 --dataset_dir path/to/unav100 --split test

Several processes (each video counted once): accelerate launch scripts/evaluate.py --model outputs
"""
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


LOCO_LOGGER = "transformers.loco_hf"  # the parent of loco-hf's loggers (`transformers.loco_hf.<module>`)


def _configure_logging(level: int) -> None:
    """Sends loco-hf's log records of `level` and above to stderr, and other libraries' through the root logger (a
    no-op when already configured). loco-hf's loggers are children of transformers' logger, whose own level
    (WARNING) stays as it is."""
    logging.basicConfig(format=LOG_FORMAT, level=level)
    logger = logging.getLogger(LOCO_LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


class _DeprecatedOption(argparse.Action):
    """An old spelling of an option: stores its value under the new option's name and warns (FutureWarning)."""

    def __init__(self, option_strings, dest, new_option: str, **kwargs):
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)
        self.new_option = new_option

    def __call__(self, parser, namespace, values, option_string=None):
        warnings.warn(
            f"{option_string} is deprecated and will be removed; use {self.new_option}.",
            FutureWarning,
            stacklevel=2,
        )
        setattr(namespace, self.dest, values)


# ---------------------------------------------------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------------------------------------------------


def build_predict_parser() -> argparse.ArgumentParser:
    """The parser of `loco-hf predict` (and `scripts/predict.py`)."""
    parser = argparse.ArgumentParser(
        prog="loco-hf predict",
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
        "--video_id", nargs="+", metavar="ID", help="names of the videos (default: the visual files' stems)"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="keep events scoring at least this (default 0.1; 0 keeps all, as the evaluation does)",
    )
    parser.add_argument("--top_k", type=int, default=None, help="keep at most this many events per video")
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
    parser.add_argument(
        "--video-id", dest="video_id", nargs="+", action=_DeprecatedOption, new_option="--video_id"
    )
    parser.add_argument("--top-k", dest="top_k", type=int, action=_DeprecatedOption, new_option="--top_k")
    return parser


def _per_video(values: Sequence | None, count: int, option: str) -> list:
    if values is None:
        return [None] * count
    if len(values) != count:
        raise ValueError(f"{option} needs one value per video ({count}), got {len(values)}.")
    return list(values)


def predict_main(argv: list[str] | None = None) -> int:
    """`loco-hf predict` and `scripts/predict.py`: localizes events in .npy features with a checkpoint and writes
    them as JSON (stdout, or --output), with a timeline PNG per video (--plot). Returns the exit status: 2, with
    one line on stderr naming the problem, for bad arguments or input (as argparse does for its own errors)."""
    _configure_logging(logging.WARNING)
    args = build_predict_parser().parse_args(argv)
    try:
        return _predict(args)
    except (ValueError, OSError) as error:
        print(f"loco-hf predict: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2


def _check_device(device: str | None) -> None:
    """Raises a ValueError unless `device` is None or a torch device that this machine has."""
    if device is None:
        return
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"--device {device!r} is not a torch device (cpu, cuda, cuda:1, mps, ...)."
        ) from None
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available() and (parsed.index or 0) < torch.cuda.device_count(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(parsed.type, True):
        raise ValueError(f"--device {device!r} is not available on this machine.")


def _check_writable(path: Path | None, option: str) -> None:
    """Raises a ValueError when `path` could not be written: a folder, or under a file (checked before the run)."""
    if path is None:
        return
    if path.is_dir():
        raise ValueError(f"{option} {str(path)!r} is a folder; give a file name.")
    parent = next(folder for folder in path.parents if folder.exists())
    if not parent.is_dir():
        raise ValueError(
            f"{option} {str(path)!r} cannot be written: {str(parent)!r} is a file, not a folder."
        )


def _load_localizer(model: str, device: str | None, revision: str | None):
    """`load_pipeline` with errors that name the checkpoint: a missing folder, or a Hub id that cannot be loaded."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    from .pipeline_loco import load_pipeline

    if not Path(model).is_dir():
        try:
            validate_repo_id(model)
        except HFValidationError:
            raise ValueError(f"no checkpoint folder {model!r} (nor is it a Hub repo id).") from None
    try:
        return load_pipeline(model, device=device, **({} if revision is None else {"revision": revision}))
    except OSError as error:
        first_line = str(error).strip().splitlines()[0]
        raise ValueError(
            f"cannot load the checkpoint {model!r}: no such folder, and from the Hub: {first_line}"
        ) from None


def _predict(args: argparse.Namespace) -> int:
    from .pipeline_loco import DEFAULT_THRESHOLD, round_events

    count = len(args.visual)
    audio = _per_video(args.audio, count, "--audio")
    durations = _per_video(args.duration, count, "--duration")
    video_ids = _per_video(args.video_id, count, "--video_id")
    video_ids = [video_id or path.stem for video_id, path in zip(video_ids, args.visual, strict=True)]
    if len(set(video_ids)) != count:
        raise ValueError(f"Video ids must be unique (pass --video_id), got {video_ids}.")
    if args.plot is not None:
        from .plotting import require_matplotlib

        require_matplotlib()  # fail before running the model when matplotlib is missing

    _check_device(args.device)
    _check_writable(args.output, "--output")
    _check_writable(args.plot, "--plot")
    localizer = _load_localizer(args.model, args.device, args.revision)
    inputs = []
    for visual, audio_path, duration, video_id in zip(args.visual, audio, durations, video_ids, strict=True):
        video = {"visual_features": visual, "audio_features": audio_path, "video_id": video_id}
        if duration is not None:
            video["duration"] = duration
        inputs.append(video)
    parameters = {"threshold": args.threshold, "top_k": args.top_k}
    results = localizer(
        inputs,
        return_duration=True,
        **{name: value for name, value in parameters.items() if value is not None},
    )
    videos = [
        {
            "video_id": video["video_id"],
            "visual_features": str(video["visual_features"]),
            "audio_features": str(video["audio_features"]),
            "duration": round(result["duration"], 3),
            "events": round_events(result["events"]),
        }
        for video, result in zip(inputs, results, strict=True)
    ]
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
        from .plotting import plot_event_timeline, timeline_paths

        for video, path in zip(videos, timeline_paths(args.plot, video_ids), strict=True):
            plot_event_timeline(
                video["events"],
                duration=video["duration"],
                title=f"{video['video_id']}: predicted events",
                path=path,
            )
            print(f"Wrote the timeline of {video['video_id']} to {path}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# train and evaluate: the options are the fields of loco_hf.training's configs
# ---------------------------------------------------------------------------------------------------------------------


def _import_training():
    try:
        from . import training
    except ImportError as error:
        raise SystemExit(
            f"loco-hf: the training module could not be imported ({error}); install loco-hf with its dependencies."
        ) from error
    return training


def _parse_config(argv: list[str] | None, config_class, command: str, description: str, epilog: str):
    """Parses the options of `loco-hf <command>` into a `config_class` with `HfArgumentParser` (every field is an
    option), after sending INFO logs to stderr (a run reports its progress there)."""
    from transformers import HfArgumentParser

    _configure_logging(logging.INFO)
    parser = HfArgumentParser(
        config_class,
        prog=f"loco-hf {command}",
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    (config,) = parser.parse_args_into_dataclasses(args=argv)
    return config


def train_main(argv: list[str] | None = None) -> int:
    """`loco-hf train`, `scripts/train.py` and `accelerate launch scripts/train.py`: parses a `TrainingConfig`,
    trains, and on the main process writes the test mAP table, the selected epoch and the output folder to stdout.
    Returns the exit status."""
    training = _import_training()
    config = _parse_config(
        argv,
        training.TrainingConfig,
        command="train",
        description=(
            "Train a LoCo model with Accelerate, on synthetic UnAV-style data (the default) or on UnAV-100 "
            "features, and write a from_pretrained checkpoint with its pipeline code, model card and metrics. "
            "Recipe options left unset take the preset's values."
        ),
        epilog=TRAIN_EXAMPLES,
    )
    summary = training.train(config)
    if summary:  # the main process
        print(training.format_summary(summary))
        print(f"Outputs in {config.output_dir}/")
    return 0


def evaluate_main(argv: list[str] | None = None) -> int:
    """`loco-hf evaluate` and `scripts/evaluate.py`: parses an `EvaluationConfig`, evaluates, and on the main
    process writes the mAP table and the paths of the metrics and predictions to stdout. Returns the exit status."""
    training = _import_training()
    config = _parse_config(
        argv,
        training.EvaluationConfig,
        command="evaluate",
        description=(
            "Evaluate a saved LoCo model (folder or Hub id) on one split: mAP at tIoU 0.1 ... 0.9 and the average, "
            "per-class AP, AP by event length, false positives by type, the predictions in the ActivityNet format "
            "and, with matplotlib, error-analysis and worst-video plots."
        ),
        epilog=EVALUATE_EXAMPLES,
    )
    metrics = training.evaluate_checkpoint(config)
    if metrics:
        directory = Path(metrics["output_dir"])
        print(training.format_map_table(metrics, f"{config.model} on {config.split}: mAP (%)"))
        print(f"metrics: {directory / f'{config.split}_metrics.json'}")
        print(f"predictions: {directory / f'{config.split}_predictions.json'}")
    return 0


# ---------------------------------------------------------------------------------------------------------------------
# convert
# ---------------------------------------------------------------------------------------------------------------------

CONVERT_EXAMPLES = """\
examples:
  loco-hf convert --checkpoint path/to/unav.pth.tar --output_dir unav-baseline-converted
  loco-hf convert --checkpoint unav.pth.tar --output_dir DIR --no_ema --push_to_hub your-org/unav-baseline

The folder holds the weights (safetensors), config, feature extractor, pipeline code and a model card; it loads
with LocoForEventLocalization.from_pretrained(DIR) or transformers.pipeline(model=DIR, trust_remote_code=True).
"""


def build_convert_parser() -> argparse.ArgumentParser:
    """The parser of `loco-hf convert` (and `scripts/convert_unav_checkpoint.py`)."""
    parser = argparse.ArgumentParser(
        prog="loco-hf convert",
        description=(
            "Convert a UnAV reference checkpoint (ttgeng233/UnAV, *.pth.tar) into a loco-hf model folder. The file "
            "is read with torch.load(weights_only=True): no code stored in it runs. docs/conversion.md lists the "
            "key table."
        ),
        epilog=CONVERT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", required=True, help="the UnAV checkpoint (*.pth.tar)")
    parser.add_argument("--output_dir", required=True, help="folder to write the converted model to")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument(
        "--use_ema",
        action="store_true",
        default=True,
        help="convert the EMA weights (state_dict_ema), those UnAV evaluates (the default)",
    )
    weights.add_argument(
        "--no_ema", dest="use_ema", action="store_false", help="convert the raw weights (state_dict) instead"
    )
    parser.add_argument("--push_to_hub", metavar="REPO", help="also upload the folder to this Hub model repo")
    return parser


def convert_main(argv: list[str] | None = None) -> int:
    """`loco-hf convert` and `scripts/convert_unav_checkpoint.py`: converts a UnAV checkpoint into a model folder
    (and pushes it with `--push_to_hub`), and writes what was converted and where to stdout. Returns the exit
    status: 2, with one line on stderr naming the problem, for a checkpoint that is missing or not a UnAV one."""
    args = build_convert_parser().parse_args(argv)
    _configure_logging(logging.WARNING)
    from .convert_unav_original_to_loco import convert_unav_checkpoint

    try:
        model = convert_unav_checkpoint(args.checkpoint, output_dir=args.output_dir, use_ema=args.use_ema)
    except (ValueError, OSError) as error:
        print(f"loco-hf convert: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    print(f"Converted {args.checkpoint} ({model.num_parameters():,} parameters) to {args.output_dir}.")
    if args.push_to_hub:
        _import_training().push_output_dir(args.output_dir, args.push_to_hub)
        print(f"Pushed {args.output_dir} to the Hub repo {args.push_to_hub}.")
    return 0


COMMANDS = {"predict": predict_main, "evaluate": evaluate_main, "train": train_main, "convert": convert_main}


# ---------------------------------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------------------------------


def _package_version() -> str:
    try:
        return version("loco-hf")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The `loco-hf` argument parser: lists the commands (each command parses its own options)."""
    parser = argparse.ArgumentParser(
        prog="loco-hf",
        description="LoCo: dense audio-visual event localization (arXiv 2409.07967) with Hugging Face tools.",
        epilog=TOP_LEVEL_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_package_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND", required=True)
    subparsers.add_parser(
        "predict", help="localize audio-visual events in pre-extracted features (.npy) and write them as JSON"
    )
    subparsers.add_parser(
        "evaluate", help="evaluate a checkpoint on a split: mAP, error analysis, worst-video timelines"
    )
    subparsers.add_parser("train", help="train a LoCo model (options: loco-hf train --help)")
    subparsers.add_parser("convert", help="convert a UnAV reference checkpoint into a loco-hf model folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `loco-hf [-v] COMMAND ...`: the command's `*_main` with the rest of the arguments. Returns the exit
    status (2 for argument errors and bad input)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["-v"], ["--verbose"]):
        _configure_logging(logging.INFO)
        argv = argv[1:]
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    build_parser().parse_args(argv)  # --help, --version, or an error naming the commands
    return 2


if __name__ == "__main__":
    sys.exit(main())
