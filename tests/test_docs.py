"""Runs the Python snippets of the documentation (docs/*.md), so that the docs stay true.

Convention, for everyone who writes in docs/:

* Every fenced block opened with ```python runs, unless the last non-blank line before its opening fence is the
  HTML comment `<!-- no-test -->` (invisible on rendered pages). Use it for code that needs what the tests do not
  have: a trained checkpoint, the network, a GPU, minutes of CPU. Other languages (```bash, ```text, ```json) never
  run.
* The blocks of one page run in order in one shared namespace, so a page can build on its earlier blocks (define a
  stand-in checkpoint once at the top). Each page gets a fresh namespace and its own empty working directory, so
  relative paths such as "loco-small" or "timeline.png" are written there and vanish after the test.
* The suite's conftest applies: HF_HOME is private and the Hub is offline (HF_HUB_OFFLINE=1), so snippets must not
  download anything; build small models (`LocoConfig.from_preset("small")` or smaller) and little data.
* Keep a page's blocks fast (seconds): the whole suite must stay under 15 minutes on 2 CPUs.

A failing block is reported with its page and line number.
"""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[1] / "docs"
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`]*)$")
CLOSING_FENCE = re.compile(r"^ *```\s*$")
SKIP_MARKER = "<!-- no-test -->"


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """The ```python blocks of a markdown text: (line number of the opening fence, code, runnable)."""
    lines = text.splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        info = opening["info"].strip().split()
        start, indent = index, len(opening["indent"])
        index += 1
        body = []
        while index < len(lines) and not CLOSING_FENCE.match(lines[index]):
            body.append(lines[index][indent:])  # the block's own indentation (inside a list item) is not code
            index += 1
        index += 1  # the closing fence
        if info and info[0] == "python":
            previous = next((line.strip() for line in reversed(lines[:start]) if line.strip()), "")
            blocks.append((start + 1, "\n".join(body) + "\n", previous != SKIP_MARKER))
    return blocks


def test_block_parser():
    text = "\n".join(
        [
            "intro", "```python", "a = 1", "```", "", SKIP_MARKER, "", "```python", "raise SystemExit", "```",
            "```bash", "rm -rf /", "```", "- item", "  ```python", "  b = a + 1", "  ```",
        ]
    )  # fmt: skip
    assert python_blocks(text) == [
        (2, "a = 1\n", True),
        (8, "raise SystemExit\n", False),
        (15, "b = a + 1\n", True),
    ]


PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_doc_snippets_run(page, tmp_path, monkeypatch):
    blocks = [(line, code) for line, code, runnable in python_blocks(page.read_text()) if runnable]
    if not blocks:
        pytest.skip(f"{page.name} has no runnable python block")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}"}
    for line, code in blocks:
        # The compiled name carries the page and the line, so a traceback points at the snippet.
        exec(compile(code, f"docs/{page.name}, block at line {line}", "exec"), namespace)
