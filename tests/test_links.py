"""Links that open the exact view: every parameter is read and checked, anything unknown or
invalid is left out with a note (never an error), and a link written from a view reads back as
the same view."""

from __future__ import annotations

from perceptual_viz.messages import word
from perceptual_viz.ui.links import PARAMS, Link, parse, query

TABS = ("features", "gram", "compare", "sweep", "equal_mse", "train", "quiz", "reconstruct")


def test_the_issues_example_links_read_as_asked():
    link = parse(
        {"tab": "compare", "sample": "coffee", "degradation": "blur", "strength": "3", "layer": "relu3_3"},
        TABS,
    )
    assert (link.tab, link.sample, link.degradation, link.strength, link.layer) == (
        "compare",
        "coffee.png",
        "blur",
        3.0,
        "relu3_3",
    )
    assert link.notes == ()
    link = parse({"tab": "features", "sample": "chelsea", "layer": "relu4_3", "channel": "10"}, TABS)
    assert (link.tab, link.sample, link.layer, link.channel) == ("features", "chelsea.png", "relu4_3", 10)


def test_unknown_and_invalid_parameters_are_left_out_with_a_note():
    link = parse(
        {
            "layer": "nope",
            "k": "999",
            "sample": "not-a-sample",
            "colour": "red",
            "strength": "50",  # JPEG's quality is 1–95, but blur's σ is smaller
            "degradation": "blur",
            "__theme": "dark",  # Gradio's own: neither read nor noted
            "round": "k7m2qx",
        },
        TABS,
    )
    assert (link.layer, link.k, link.sample, link.strength) == (None, None, None, None)
    assert link.degradation == "blur" and link.round == "K7M2QX"
    said = " | ".join(word(n, "en") for n in link.notes)
    for name in ("layer=nope", "k=999", "sample=not-a-sample", "colour=red", "strength=50"):
        assert name in said, said
    assert "__theme" not in said
    assert all(word(n, "ja") != word(n, "en") for n in link.notes), "notes are worded for the reader"


def test_a_layer_the_backbone_lacks_is_left_out():
    assert parse({"arch": "vgg19", "layer": "relu3_4"}, TABS).layer == "relu3_4"
    assert parse({"arch": "vgg16", "layer": "relu3_4"}, TABS).layer is None


def test_a_written_link_reads_back_as_the_same_settings():
    settings = {
        "tab": "gram",
        "sample": "chelsea.png",
        "sample_b": "brick.png",
        "arch": "vgg16",
        "size": "256",
        "layer": "relu2_2",
        "k": 16,
        "sort": "max",
        "scope": "layer",
        "cmap": "magma",
        "channel": 7,
        "x": 120,
        "y": 80,
        "degradation": "noise",
        "strength": 0.1,
        "seed": 3,
        "norm": "gatys",
        "round": "K7M2QX",
        "lang": "ja",
        "present": True,
    }
    assert set(settings) == set(PARAMS)
    q = query(settings)
    assert q.startswith("?tab=gram&sample=chelsea&arch=vgg16&") and "sample_b=brick" in q
    from urllib.parse import parse_qsl

    back = parse(dict(parse_qsl(q[1:])), TABS)
    assert back == Link(**settings) and back.notes == ()
    assert query({}) == "" and query({"layer": None}) == ""
