"""Runs the code blocks of the documentation (README.md and docs/*.md), so that the docs stay true.

Convention, for everyone who writes in docs/ or the README:

* Every fenced block opened with ```python or ```bash runs, unless the last non-blank line before its opening
  fence is the HTML comment `<!-- no-test: reason -->` (invisible on rendered pages), which says why it cannot run
  here: it needs a trained checkpoint, the network, a GPU, the UnAV-100 release, or minutes of CPU. The bare form
  `<!-- no-test -->` is accepted too. Other languages (```text, ```json, ```bibtex) never run.
* The blocks of one page run in order, in the page's own empty working directory, so relative paths such as
  "loco-small" or "timeline.png" are written there and vanish after the test. Python blocks share one namespace
  (a page can build on its earlier blocks: define a stand-in checkpoint once at the top). Bash blocks run with
  `bash -e` (a block stops at its first failing command), with the test's Python environment first on PATH
  (`python`, `loco-hf`, `accelerate`), and with the repository's `scripts/`, `benchmarks/`, `demo/` and `metrics/`
  linked into the working directory, so a command reads as it would from the repository root.
* The suite's conftest applies: HF_HOME is private and the Hub is offline (HF_HUB_OFFLINE=1), so blocks must not
  download anything; build small models (`LocoConfig.from_preset("small")` or smaller) and little data, and train
  with tiny options.
* Keep a page's blocks fast (seconds): the whole suite must stay under 15 minutes on 2 CPUs.

A failing block is reported with its page and line number.
"""

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).parents[1]
DOCS = REPO_ROOT / "docs"
FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`]*)$")
CLOSING_FENCE = re.compile(r"^ *```\s*$")
SKIP_MARKER = re.compile(r"^<!--\s*no-test(?::\s*(?P<reason>.*?))?\s*-->$")
LANGUAGES = ("python", "bash")
# Repository folders that commands in the docs name by relative path.
LINKED_FOLDERS = ("scripts", "benchmarks", "demo", "metrics")


@dataclass(frozen=True)
class CodeBlock:
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    runnable: bool


def code_blocks(text: str) -> list[CodeBlock]:
    """The ```python and ```bash blocks of a markdown text, in order."""
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
        if info and info[0] in LANGUAGES:
            previous = next((line.strip() for line in reversed(lines[:start]) if line.strip()), "")
            runnable = SKIP_MARKER.match(previous) is None
            blocks.append(CodeBlock(start + 1, info[0], "\n".join(body) + "\n", runnable))
    return blocks


def test_block_parser():
    text = "\n".join(
        [
            "intro", "```python", "a = 1", "```", "", "<!-- no-test -->", "", "```python", "raise SystemExit", "```",
            "<!-- no-test: wipes the disk -->", "```bash", "rm -rf /", "```", "- item", "  ```python",
            "  b = a + 1", "  ```", "```bash", "echo hi", "```", "```text", "not code", "```",
        ]
    )  # fmt: skip
    assert code_blocks(text) == [
        CodeBlock(2, "python", "a = 1\n", True),
        CodeBlock(8, "python", "raise SystemExit\n", False),
        CodeBlock(12, "bash", "rm -rf /\n", False),
        CodeBlock(16, "python", "b = a + 1\n", True),
        CodeBlock(19, "bash", "echo hi\n", True),
    ]


def run_bash(code: str, where: str, cwd: Path) -> None:
    """Runs a bash block as a user would from the repository root, with this Python environment first on PATH."""
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    finished = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", code], cwd=cwd, env=environment, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert finished.returncode == 0, f"{where} failed:\n{finished.stdout[-2000:]}\n{finished.stderr[-4000:]}"


PAGES = [REPO_ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_doc_blocks_run(page, tmp_path, monkeypatch):
    blocks = [block for block in code_blocks(page.read_text()) if block.runnable]
    if not blocks:
        pytest.skip(f"{page.name} has no runnable block")
    for folder in LINKED_FOLDERS:
        (tmp_path / folder).symlink_to(REPO_ROOT / folder, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page.stem}"}
    for block in blocks:
        # The name carries the page and the line, so a failure points at the block.
        where = f"{page.relative_to(REPO_ROOT)}, block at line {block.line}"
        if block.language == "bash":
            run_bash(block.code, where, tmp_path)
        else:
            exec(compile(block.code, where, "exec"), namespace)


def test_a_failing_command_fails_its_bash_block(tmp_path):
    with pytest.raises(AssertionError, match="page.md, block at line 3 failed"):
        run_bash("echo first\nfalse\ntouch never\n", "page.md, block at line 3", tmp_path)
    assert not (tmp_path / "never").exists()  # the block stopped at the failing command
    run_bash("loco-hf --version\n", "page.md, block at line 9", tmp_path)  # the environment's commands
