"""One table of architectures (perceptual_viz.archs): everything that names VGG16/VGG19 reads it."""

from __future__ import annotations

import sys
import tokenize
from typing import get_args

import pytest

from perceptual_viz import cli
from perceptual_viz.archs import ARCHITECTURES, ARCHS, Arch, check_arch, is_arch, spec
from perceptual_viz.errors import InputError
from perceptual_viz.layers import block_outputs, layers

from .support import ROOT


def test_the_literal_type_and_the_table_name_the_same_architectures():
    assert get_args(Arch) == ARCHS == tuple(ARCHITECTURES)
    for name, entry in ARCHITECTURES.items():
        assert entry.name == name
        assert entry.torchvision_file == entry.torchvision_url.rsplit("/", 1)[-1]
        assert entry.conv_count == sum(1 for i in layers(name) if i.kind == "conv")
        assert len(block_outputs(name)) == len(entry.convs_per_stage) == 5
    assert [a for a in ARCHS if spec(a).lpips] == ["vgg16"], "LPIPS is calibrated on VGG16 alone"


def test_the_one_check_of_an_architecture_name():
    assert check_arch("VGG19") == "vgg19" and spec("Vgg16") is ARCHITECTURES["vgg16"]
    assert is_arch("vgg16") and not is_arch("VGG16") and not is_arch(16)
    with pytest.raises(InputError, match="unknown architecture 'alexnet'; choose one of vgg16, vgg19"):
        check_arch("alexnet")


def test_the_command_line_and_the_app_offer_the_tables_architectures():
    ap = cli._parser("weights")
    (sub,) = [a for a in ap._actions if a.dest == "command"]
    (arch,) = [a for a in sub.choices["weights"]._actions if a.dest == "arch"]
    assert tuple(arch.choices) == ARCHS
    sys.path.insert(0, str(ROOT))
    try:
        import app

        assert app.parse_args(["--arch", "vgg19"]).arch == "vgg19"
        with pytest.raises(SystemExit):
            app.parse_args(["--arch", "alexnet"])
    finally:
        sys.path.remove(str(ROOT))


def test_no_architecture_is_spelled_out_outside_the_table():
    """A string literal ``"vgg19"`` in code anywhere but ``archs.py`` is a second copy of the
    table (docstrings and comments may name it; ``"vgg16"`` as a default argument is fine)."""
    copies = []
    for path in [ROOT / "app.py", *sorted((ROOT / "perceptual_viz").rglob("*.py"))]:
        if path.name == "archs.py":
            continue
        with tokenize.open(path) as f:
            for tok in tokenize.generate_tokens(f.readline):
                if tok.type == tokenize.STRING and tok.string.strip("\"'") == "vgg19":
                    copies.append(f"{path.relative_to(ROOT)}:{tok.start[0]}")
    assert not copies, copies
