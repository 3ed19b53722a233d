"""Benchmark harness smoke test: ``python -m benchmarks --quick`` runs end to end on tiny networks.

No timing assertions (the figures of a quick run on a shared machine mean nothing); this checks
that the command runs, prints the report and writes the JSON the README's table is built from.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run_benchmarks(*args: str) -> subprocess.CompletedProcess:
    # one BLAS thread: tiny products on a busy 2-core machine are slower, not faster, with two
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_quick_run_prints_the_tables_and_writes_json(tmp_path):
    out = tmp_path / "latest.json"
    done = run_benchmarks("-m", "benchmarks", "--quick", "--only", "1,2,3,4,7", "--no-torch", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "| item | measure | nnscratch |" in done.stdout and "| target | measured |" in done.stdout
    assert "BLAS:" in done.stdout  # environment printed first
    report = json.loads(out.read_text())
    assert set(report["items"]) == {"1", "2", "3", "4", "7"}
    assert report["settings"]["quick"] is True and report["settings"]["repeats"] >= 3
    assert any(lib["user_api"] == "blas" for lib in report["environment"]["blas"])
    gemm = report["items"]["1"]["configured"]["nets"]
    assert {"small/32/float32", "small/256/float32", "deep/256/float32", "deep/256/float64"} <= set(gemm)
    assert all(net["shape_set_gflops"] > 0 for net in gemm.values())
    epoch = report["items"]["2"]["batches"]
    assert set(epoch) == {"32", "256"}
    for batch in epoch.values():
        assert len(batch["timings"]["nnscratch"]["repeats_s"]) == report["settings"]["repeats"]
        assert "pytorch" not in batch["timings"]  # --no-torch skips its columns
        for profile in batch["step_profile_us"].values():  # fit's BLAS threads, and one thread
            phases = [profile[p] for p in ("gather", "forward", "loss", "backward", "update")]
            assert min(phases) > 0 and abs(profile["step"] - sum(phases)) < 1e-6 * profile["step"]
            assert profile["gemms_alone"] > 0
    step = report["items"]["3"]
    assert step["achieved_gflops"] > 0 and 0 < step["fraction_of_shape_set_peak"]
    memory = report["items"]["7"]
    assert memory["peak_rss"] >= memory["baseline_rss"] > 0 and memory["working_set_total"] > 0
    targets = {t["target"]: t for t in report["targets"]}
    assert targets["deep net step time vs PyTorch"]["value"] is None  # not measured without torch
    assert report["report_markdown"] in done.stdout


def test_script_entry_point_shows_help():
    done = run_benchmarks("benchmarks/run.py", "--help")
    assert done.returncode == 0 and "--only" in done.stdout
