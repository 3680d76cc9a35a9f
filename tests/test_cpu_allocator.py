"""Tests of loco_hf.training.cpu_allocator: a CPU training process reuses the large blocks it frees."""

import platform
import subprocess
import sys
import textwrap

import pytest

# Allocates and frees a 256 MiB tensor as a train step would, four times, and prints the page faults of the last
# allocation (the heap settles over the first ones).
REALLOCATION = textwrap.dedent(
    """
    import resource, sys
    import torch
    from loco_hf.training.cpu_allocator import keep_freed_memory
    applied = keep_freed_memory() if sys.argv[1] == "keep" else False
    for _ in range(4):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.ones(64 * 2**20)
    print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def page_faults_of_reallocation(mode: str) -> tuple[bool, int]:
    output = subprocess.run(
        [sys.executable, "-c", REALLOCATION, mode], check=True, capture_output=True, text=True
    ).stdout.split()
    return output[0] == "True", int(output[1])


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's malloc only"
)
def test_freed_blocks_are_reused_without_page_faults():
    applied, kept_faults = page_faults_of_reallocation("keep")
    _, returned_faults = page_faults_of_reallocation("return")
    assert applied
    assert returned_faults > 30_000  # 256 MiB of 4 KiB pages faulted in again
    assert kept_faults < returned_faults / 20


def test_cpu_training_keeps_freed_memory_unless_told_not_to(tmp_path, monkeypatch):
    from loco_hf.training import TrainingConfig, loop

    calls = []
    monkeypatch.setattr(loop, "keep_freed_memory", lambda: calls.append("applied"))
    for keep in (True, False):
        loop.build_accelerator(TrainingConfig(output_dir=str(tmp_path), keep_freed_cpu_memory=keep), tmp_path)
    assert calls == ["applied"]
