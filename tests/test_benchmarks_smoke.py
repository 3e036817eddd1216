"""Smoke test of benchmarks/run.py (its ``main``, in this process): every section runs
(``--smoke``: toy sizes, one repeat), prints its tables, and our SSIM matches scikit-image.

No timing is asserted: timings depend on the machine and its load, and belong in the benchmark's
output, not in unit tests. The sizes are the smoke run's, so rows are found by their shape.
"""

from __future__ import annotations

import contextlib
import io
import json
import re

import pytest

pytest.importorskip("skimage")

from .support import ROOT, import_benchmark


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split("|")]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """Output and JSON of one ``run.py --smoke``, offline. In this process (``main`` is what the
    script runs): a second interpreter would spend ~8 s of CPU importing torch and Gradio again."""
    out_json = tmp_path_factory.mktemp("bench") / "results.json"
    run = import_benchmark("run")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("PERCEPTUAL_VIZ_OFFLINE", "1")
        mp.chdir(ROOT)
        code = run.main(["--smoke", "--json", str(out_json)])
    assert code == 0, f"exit {code}\n{out.getvalue()}"
    return out.getvalue(), json.loads(out_json.read_text())


@pytest.mark.slow
def test_quick_run_prints_ssim_row_and_ratio_column(quick_run: tuple[str, dict]) -> None:
    out, _ = quick_run
    lines = out.splitlines()
    header = next((ln for ln in lines if ln.startswith("target") and "ratio" in ln), None)
    assert header is not None, out
    assert _cells(header) == ["target", "ours (ms)", "peer", "peer (ms)", "ratio (ours/peer)"]
    body = lines[lines.index(header) + 1 :]
    body = body[: body.index("")] if "" in body else body  # the timing table ends at a blank line
    ssim_rows = [_cells(ln) for ln in body if ln.startswith("SSIM")]
    assert ssim_rows, out
    assert all(len(r) == 5 for r in ssim_rows)
    for r in ssim_rows:
        float(r[1])  # ours (ms) is a number
    # scikit-image is installed (imported above), so at least its row has a numeric ratio.
    sk = [r for r in ssim_rows if r[2].startswith("skimage")]
    assert sk, out
    assert float(sk[0][4]) > 0


@pytest.mark.slow
def test_quick_run_ssim_value_matches_skimage(quick_run: tuple[str, dict]) -> None:
    out, data = quick_run
    values = {}
    for ln in out.splitlines():
        c = _cells(ln)
        if len(c) == 5 and c[0].startswith("SSIM astronaut"):
            values[c[1]] = float(c[2]) if c[2] != "-" else None
    assert values.get("ours") is not None, out
    assert values.get("skimage (float64)") is not None, out
    assert abs(values["ours"] - values["skimage (float64)"]) < 1e-5
    # The JSON dump carries the same values.
    by_impl = {v["implementation"]: v for v in data["values"] if v["check"].startswith("SSIM")}
    assert abs(by_impl["ours"]["value"] - values["ours"]) < 1e-7
    assert data["rows"] and all("ratio" in r for r in data["rows"])


@pytest.mark.slow
def test_quick_run_cache_is_used_and_lpips_matches_package(quick_run: tuple[str, dict]) -> None:
    _, data = quick_run
    assert data["cache_checks"]
    for check in data["cache_checks"].values():
        # every cached call found the clean image in the cache and forwarded only the degraded one
        assert check["clean_hits"] == check["cached_calls"] == check["degraded_misses"] > 0
    lp = {v["implementation"]: v["value"] for v in data["values"] if v["check"].startswith("LPIPS")}
    if lp.get("lpips package") is None:
        pytest.skip("lpips not installed")
    assert abs(lp["ours (score_pairs)"] - lp["lpips package"]) < 1e-5


@pytest.mark.slow
def test_quick_run_prints_targets_table_with_verdicts(quick_run: tuple[str, dict]) -> None:
    out, data = quick_run
    lines = out.splitlines()
    assert any(ln.startswith("TARGETS") for ln in lines), out
    start = next(i for i, ln in enumerate(lines) if ln.startswith("TARGETS"))
    header = _cells(lines[start + 1])
    assert header == ["target", "ours", "peer", "ratio", "goal", "verdict"], lines[start + 1]
    block = []
    for ln in lines[start + 2 :]:
        if ln and set(ln) <= set("-+"):  # a rule between groups of rows
            continue
        if "|" not in ln:  # the table ends at the summary line
            break
        block.append(ln)
    rows = [_cells(ln) for ln in block]
    assert all(len(r) == 6 for r in rows), block
    targets = {r[0]: r for r in rows}
    # every row has a verdict: met, not met, or report only
    assert targets and all(r[5] in ("✓", "✗", "—") for r in targets.values()), out
    names = list(targets)
    assert any(re.match(r"SSIM \d+² b1", n) for n in names), names
    assert any(re.match(r"score pair \d+², no cache", n) for n in names), names
    assert any(re.match(r"score pair \d+², clean cached", n) for n in names), names
    assert any(re.match(r"sweep K=\d+", n) for n in names), names
    # the view-change row: no forward pass after the upload
    view = [r for n, r in targets.items() if n.startswith("view change")]
    assert view, names
    assert "forward passes: 0" in view[0][1], view[0]
    assert "forward passes: 0" in lines
    assert data["views"]["forward_passes"] == 0
    assert {t["verdict"] for t in data["targets"]} <= {"✓", "✗", "—"}
    # cold start is skipped in --quick unless asked for; CUDA-only rows say so on a CPU
    cold = [r for n, r in targets.items() if n.startswith("app cold start")]
    assert cold and cold[0][5] == "—"
    if data["environment"]["device"] == "cpu":
        assert any(ln.startswith("CUDA-only rows") for ln in lines), out


@pytest.mark.slow
def test_quick_run_exercises_the_app_sections(quick_run: tuple[str, dict]) -> None:
    """The load, classroom and train sections ran end to end (not only the library timings)."""
    _, data = quick_run
    assert data["environment"]["mode"] == "smoke"
    load = data["load"]
    assert (load["requests"], load["errors"]) == (load["clients"] * load["requests_per_client"], 0)
    room = data["classroom"]
    assert room["long_jobs_running_throughout"] and len(room["idle_s"]) == len(room["busy_s"]) >= 1
    train = data["train"]
    assert "error" not in train and train["steps"] >= 1
    assert {"mse", "perceptual"} <= set(train["runs"]) and all(r["psnr"] > 0 for r in train["runs"].values())


@pytest.mark.slow
def test_the_class_benchmark_runs_its_four_phases_and_checks_every_result(tmp_path):
    """``benchmarks/load.py --class N`` at its smallest: two students, untrained weights, the app
    in its own process (twice: the class's, and one that shares nothing for the alone-check).
    Every phase answers without error and every result equals the same request made alone."""
    classload = import_benchmark("classload")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PERCEPTUAL_VIZ_OFFLINE", "1")
        r = classload.class_run(2, "untrained", workdir=tmp_path)
    assert list(r["phases"]) == ["same sample", "view changes", "own photos", "compare"]
    for name, p in r["phases"].items():
        assert p["n_errors"] == 0, (name, p["errors"])
        assert p["mismatched"] == 0, name
        assert p["requests"] == 2 * (2 if name == "view changes" else 1)
    assert r["phases"]["own photos"]["floor_s"] == pytest.approx(2 * r["bare_forward_s"])
    report = classload.report(r)
    assert all(name in report for name in r["phases"]) and "/status" in report
