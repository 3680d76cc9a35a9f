"""
Writes `unav100_slice.json`, the slice of UnAV-100's annotation file that the data tests read.

Run from the repository root, with the full `unav100_annotations.json` of the UnAV-100 release:

    python tests/data/make_unav100_slice.py path/to/unav100_annotations.json

For each split, it keeps the first video (in file order) of every (duration, number of events) cell: durations of
10-30, 30-45 or 45-60 s, 1, 2-3, 4-8 or 9 and more events. That gives three dozen videos with short and
long durations, lone and crowded timelines, overlapping events and repeated classes, in all three splits, in the
release's own format (the full file is not shipped with the tests).
"""

import json
import sys
from pathlib import Path

DURATION_EDGES = (30.0, 45.0)  # seconds: 10-30, 30-45 and 45-60 s
EVENT_BINS = ((1, 1), (2, 3), (4, 8), (9, 10**6))


def cell(video: dict) -> tuple[int, int]:
    """(duration bin, events bin) of a video."""
    duration_bin = sum(float(video["duration"]) >= edge for edge in DURATION_EDGES)
    count = len(video["annotations"])
    return duration_bin, next(i for i, (low, high) in enumerate(EVENT_BINS) if low <= count <= high)


def make_slice(database: dict) -> dict:
    """The first video of each (split, duration bin, events bin) cell, in file order."""
    chosen, seen = {}, set()
    for video_id, video in database.items():
        key = (video["subset"], *cell(video))
        if key not in seen:
            seen.add(key)
            chosen[video_id] = video
    return chosen


if __name__ == "__main__":
    source = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    sliced = {"version": source.get("version", "unav100"), "database": make_slice(source["database"])}
    target = Path(__file__).with_name("unav100_slice.json")
    target.write_text(json.dumps(sliced, indent=1) + "\n", encoding="utf-8")
    print(f"{len(sliced['database'])} videos written to {target}")
