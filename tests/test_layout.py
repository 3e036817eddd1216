"""The layout holds: one figure behind the app and the command line, one declaration per
degradation, a library that needs neither Gradio nor pandas, short functions, clean types."""

from __future__ import annotations

import ast
import io
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch
from PIL import Image

from perceptual_viz import degrade as degrade_module
from perceptual_viz.cli import main as cli
from perceptual_viz.export import read_bundle

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import handle_file  # noqa: E402

from .support import ROOT, SAMPLES  # noqa: E402

MAX_LINES = 60


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path]:
    """Two small photos (analysed at their own size: fast) of different content."""
    folder = tmp_path_factory.mktemp("small")
    out = []
    for name in ("chelsea.png", "coffee.png"):
        with Image.open(SAMPLES / name) as im:
            path = folder / name
            im.convert("RGB").resize((96, 64)).save(path)
            out.append(path)
    return out[0], out[1]


def _app(pool, client, *args, **kwargs):
    """One app request on a cold feature cache, as the command line starts. (A feature cached
    from another request may come from a batch of another size, and batched convolutions round
    differently in the last float bits; the figures themselves are the same.)"""
    pool.cache.clear()
    return client.predict(*args, **kwargs)


def _record(zipped: str | Path) -> dict:
    record, _ = read_bundle(zipped)
    record.pop("created")
    return record


def _same_apart_from_frontend(app_zip: str, cli_zip: Path) -> None:
    a, c = _record(app_zip), _record(cli_zip)
    assert (a.pop("frontend"), c.pop("frontend")) == ("app", "cli")
    assert a == c


def _cli(*args: str) -> None:
    with redirect_stdout(io.StringIO()):
        assert cli([*args, "--weights", "untrained", "--device", "cpu"]) == 0


def test_compare_gram_and_sweep_figures_are_the_same_from_app_and_cli(served, client, small, tmp_path):
    pool = served.pool
    img, other = (handle_file(str(p)) for p in small)
    out = _app(
        pool,
        client,
        img,
        None,
        "degrade",
        "blur",
        2.0,
        3,
        "vgg16",
        "original",
        "relu2_2",
        api_name="/compare",
    )
    _cli(
        "compare",
        str(small[0]),
        "--degrade",
        "blur=2",
        "--seed",
        "3",
        "--size",
        "original",
        "--export",
        str(tmp_path / "c.zip"),
    )
    _same_apart_from_frontend(out[-1], tmp_path / "c.zip")

    out = _app(
        pool, client, img, other, "vgg16", "original", "relu3_3", "gatys", 16, "magma", api_name="/gram"
    )
    args = ["--layer", "relu3_3", "--norm", "gatys", "--top", "16", "--cmap", "magma", "--size", "original"]
    _cli("gram", str(small[0]), str(small[1]), *args, "--export", str(tmp_path / "g.zip"))
    _same_apart_from_frontend(out[-1], tmp_path / "g.zip")

    out = _app(pool, client, img, ["noise", "quantize"], 3, 5, "vgg16", "original", api_name="/sweep")
    sweep = ["--degradations", "noise,quantize", "--levels", "3", "--seed", "5", "--size", "original"]
    _cli("sweep", str(small[0]), *sweep, "--export", str(tmp_path / "s.zip"))
    _same_apart_from_frontend(out[-1], tmp_path / "s.zip")


def test_lesson_figures_are_the_same_from_app_and_cli(served, client, small, tmp_path):
    pool = served.pool
    img = handle_file(str(small[1]))
    out = _app(pool, client, img, "PSNR (dB)", 24.0, "style", 2, "vgg16", "original", api_name="/equal_mse")
    args = ["--psnr", "24", "--rank-by", "style", "--seed", "2", "--size", "original"]
    _cli("equal-mse", str(small[1]), *args, "--export", str(tmp_path / "e.zip"))
    _same_apart_from_frontend(out[-1], tmp_path / "e.zip")

    pool.cache.clear()
    job = client.submit(img, "texture", ["relu1_1", "relu2_1"], 30, 48, 4, "vgg16", api_name="/reconstruct")
    final = list(job)[-1]
    recon = ["--mode", "texture", "--layers", "relu1_1,relu2_1", "--steps", "30", "--px", "48", "--seed", "4"]
    _cli(
        "reconstruct",
        str(small[1]),
        *recon,
        "--out",
        str(tmp_path / "r.png"),
        "--export",
        str(tmp_path / "r.zip"),
    )
    _same_apart_from_frontend(final[4], tmp_path / "r.zip")

    style = handle_file(str(small[0]))
    job = client.submit(
        img, style, 1.0, 5.0, 2.0, "relu3_3", 10, 48, 0, "content", "vgg16", api_name="/style_transfer"
    )
    final = list(job)[-1]
    st = [
        "--style-weight",
        "5",
        "--tv-weight",
        "2",
        "--content-layer",
        "relu3_3",
        "--steps",
        "10",
        "--px",
        "48",
    ]
    _cli(
        "style-transfer",
        str(small[1]),
        str(small[0]),
        *st,
        "--out",
        str(tmp_path / "s.png"),
        "--export",
        str(tmp_path / "s.zip"),
    )
    _same_apart_from_frontend(final[4], tmp_path / "s.zip")


# --------------------------------------------------------------------------- one declaration


def _fade(x: torch.Tensor, amount: float, seed: int) -> torch.Tensor:
    return x * (1 - amount) + 0.5 * amount


@pytest.fixture
def toy_degradation():
    """A degradation declared once, as a contributor would add one."""
    yield degrade_module.register(
        degrade_module.Degradation(
            "fade",
            "Fade to grey",
            "amount",
            0.0,
            1.0,
            0.3,
            0.0,
            True,
            _fade,
            mild=0.1,
            severe=0.9,
            symbol="amount",
            search=(0.0, 1.0),
        )
    )
    del degrade_module.DEGRADATIONS["fade"]


def test_a_degradation_is_one_declaration(toy_degradation, capsys, photos):
    from perceptual_viz.figures import analyse
    from perceptual_viz.figures import sweep as fs
    from perceptual_viz.images import load_image
    from perceptual_viz.lessons import equal_mse as em
    from perceptual_viz.ui.app import build_demo
    from perceptual_viz.ui.models import ModelPool

    demo = build_demo(ModelPool("vgg16", "untrained", "cpu"))
    choices = {
        getattr(b, "label", None): [v for _, v in getattr(b, "choices", None) or []]
        for b in demo.blocks.values()
    }
    assert "fade" in choices["Degradation"], "the Compare tab offers it"
    assert "fade" in choices["Degradations"], "the Sweep tab offers it"
    with pytest.raises(SystemExit):
        cli(["compare", "--help"])
    assert "fade (amount)" in capsys.readouterr().out, "the command line lists it"
    assert "fade" in em.gallery_degradations(), "Equal MSE matches it"
    x = torch.from_numpy(photos["chelsea"][:64, :96]).permute(2, 0, 1)[None].contiguous()
    m = em.match_mse(x, "fade", 0.004)
    assert m.within and str(m.setting).startswith("amount ")
    from perceptual_viz.backbone import load_vgg

    model = load_vgg("vgg16", "untrained", "cpu")
    a = analyse(model, load_image(photos["chelsea"][:64, :96]), "original")
    fig = fs.sweep(model, a, "original", ["fade"], 3)
    assert [r[0] for r in fig.table.rows] == ["fade"] * 3


# --------------------------------------------------------------------------- packaging


@pytest.mark.slow
def test_the_library_imports_without_gradio_pandas_or_torchvision():
    code = (
        "import sys\n"
        "sys.modules['gradio'] = None\n"  # importing them now fails
        "sys.modules['pandas'] = None\n"
        "sys.modules['torchvision'] = None\n"  # a reference in tests, never needed at run time
        "import perceptual_viz\n"
        "from perceptual_viz import PerceptualLoss, load_vgg, score_pairs\n"
        "import perceptual_viz.figures.compare, perceptual_viz.figures.sweep, perceptual_viz.figures.gram\n"
        "import perceptual_viz.figures.equal_mse, perceptual_viz.figures.reconstruct\n"
        "import perceptual_viz.figures.style_transfer\n"
        "import perceptual_viz.commands\n"
        "load_vgg('vgg19', weights='untrained', device='cpu')\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/")
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_help_answers_without_importing_torch():
    code = (
        "import sys\n"
        "from perceptual_viz.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert "equal-mse" in proc.stdout


# --------------------------------------------------------------------------- code shape


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_no_function_in_the_package_is_longer_than_60_lines():
    long = []
    for path in sorted((ROOT / "perceptual_viz").rglob("*.py")):
        for fn in _functions(ast.parse(path.read_text(encoding="utf-8"))):
            n = (fn.end_lineno or fn.lineno) - fn.lineno + 1
            if n > MAX_LINES:
                long.append(f"{path.relative_to(ROOT)}:{fn.lineno} {fn.name} ({n} lines)")
    assert not long, "\n".join(long)


@pytest.mark.slow
def test_the_type_checker_is_clean():
    mypy = shutil.which("mypy")
    if mypy is None:
        pytest.skip("mypy is not installed (it is in requirements-dev.txt)")
    proc = subprocess.run([mypy], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_no_blanket_type_ignores():
    bare = []
    for path in sorted((ROOT / "perceptual_viz").rglob("*.py")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "type: ignore" in line and "type: ignore[" not in line:
                bare.append(f"{path.relative_to(ROOT)}:{i}")
    assert not bare, "every ignore names its error code: " + ", ".join(bare)


def test_the_tab_bar_holds_only_tabs(served):
    """Gradio numbers tabs by their position among the ``gr.Tabs``' children: a stray component
    there (a ``gr.State`` made after a tab's ``with`` block) made an opened tab draw its label
    over the next tab's button, or twice."""
    import gradio as gr

    from perceptual_viz.ui.app import TABS

    demo = served.demo
    (bar,) = [b for b in demo.blocks.values() if isinstance(b, gr.Tabs)]
    assert [type(c) for c in bar.children] == [gr.Tab] * len(TABS)
    assert [c.id for c in bar.children] == [t.__name__.rsplit(".", 1)[-1] for t in TABS]


def _package_imports() -> dict[str, set[str]]:
    """Module → the package modules it imports anywhere in its body (function-level too)."""
    pkg = ROOT / "perceptual_viz"
    mods: dict[str, Path] = {}
    for p in pkg.rglob("*.py"):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p

    def target(mod: str, base: str, name: str) -> str | None:
        sub = f"{base}.{name}"
        found = sub if sub in mods else base
        return found if found in mods and found != mod else None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = ".".join(
                        here[: len(here) - node.level + 1] + ([node.module] if node.module else [])
                    )
                elif (node.module or "").startswith("perceptual_viz"):
                    base = str(node.module)
                else:
                    continue
                graph[mod] |= {t for a in node.names if (t := target(mod, base, a.name))}
            elif isinstance(node, ast.Import):
                graph[mod] |= {a.name for a in node.names if a.name in mods and a.name != mod}
    return graph


def test_the_package_has_no_import_cycle() -> None:
    """No module imports (even lazily, inside a function) a module that imports it back."""
    graph = _package_imports()
    assert graph["perceptual_viz.commands"] >= {"perceptual_viz.terminal", "perceptual_viz.figures"}
    cycles = []
    for start in graph:  # a depth-first walk from each module back to itself
        stack, seen = [(start, (start,))], set()
        while stack:
            mod, path = stack.pop()
            for nxt in graph[mod]:
                if nxt == start:
                    cycles.append(" → ".join((*path, start)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*path, nxt)))
    assert not cycles, cycles[:5]
