"""Backbone: layer naming, weight resolution, accepted files, honest status."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import socket

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from perceptual_viz import backbone as bb
from perceptual_viz.archs import ARCHITECTURES
from perceptual_viz.backbone import WeightsError, load_vgg, resolve_weights
from perceptual_viz.layers import block_outputs, layer, layers, resolve_layer


def _trained_like_sd(arch: str = "vgg16", seed: int = 123) -> dict[str, torch.Tensor]:
    """A features state dict that is clearly *not* the untrained default (different seed)."""
    torch.manual_seed(seed)
    feats = make_layers(cfgs["D" if arch == "vgg16" else "E"])  # PyTorch's default init, not ours
    return {k: v.clone() for k, v in feats.state_dict().items()}


# --------------------------------------------------------------------------- naming


@pytest.mark.parametrize(("arch", "cfg"), [("vgg16", "D"), ("vgg19", "E")])
def test_our_features_are_torchvisions_module_for_module_and_draw_for_draw(arch, cfg):
    """``make_features`` stands in for torchvision's ``make_layers`` (whose import costs seconds
    at every start): the same modules, the same keys, the same weights from the same seed."""
    torch.manual_seed(7)
    theirs, next_theirs = make_layers(cfgs[cfg]), torch.rand(1)
    torch.manual_seed(7)
    ours, next_ours = bb.make_features(arch), torch.rand(1)
    assert repr(ours) == repr(theirs)
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(next_ours, next_theirs), "both leave the generator in the same state"


def test_download_addresses_are_torchvisions():
    from torchvision.models import VGG16_Weights, VGG19_Weights

    assert {"vgg16": VGG16_Weights.IMAGENET1K_V1.url, "vgg19": VGG19_Weights.IMAGENET1K_V1.url} == {
        a.name: a.torchvision_url for a in ARCHITECTURES.values()
    }


def test_layer_names_match_torchvision_modules():
    for arch in ("vgg16", "vgg19"):
        feats = getattr(torchvision.models, arch)(weights=None).features
        infos = layers(arch)
        assert [i.index for i in infos] == list(range(len(feats)))
        for info in infos:
            m = feats[info.index]
            kind = {nn.Conv2d: "conv", nn.ReLU: "relu", nn.MaxPool2d: "pool"}[type(m)]
            assert info.kind == kind, info
            if kind == "conv":
                assert m.out_channels == info.channels


def test_block_outputs_are_the_reference_slices():
    # features[:4] → relu1_2, [4:9] → relu2_2, [9:16] → relu3_3, [16:23] → relu4_3, [23:30] → relu5_3
    assert [layer("vgg16", n).index + 1 for n in block_outputs("vgg16")] == [4, 9, 16, 23, 30]
    assert block_outputs("vgg19") == ("relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4")
    assert block_outputs("vgg16", pre_relu=True)[2] == "conv3_3"
    assert resolve_layer("vgg16", 2) == "relu3_3"
    assert resolve_layer("vgg16", "pool4") == "pool4"
    with pytest.raises(ValueError, match="valid names"):
        resolve_layer("vgg16", "relu9_9")


def test_receptive_fields_and_strides():
    # Known values for VGG16: conv1_1 3, relu3_3 40 (stride 4), relu4_3 92, relu5_3 196, pool5 212.
    rf = {i.name: (i.receptive_field, i.stride) for i in layers("vgg16")}
    assert rf["conv1_1"] == (3, 1)
    assert rf["pool1"] == (6, 2)
    assert rf["relu3_3"] == (40, 4)
    assert rf["relu4_3"] == (92, 8)
    assert rf["relu5_3"] == (196, 16)
    assert rf["pool5"] == (212, 32)


# --------------------------------------------------------------------------- frozen model


def test_model_is_frozen_eval_and_deterministic(vgg16):
    assert not vgg16.training
    assert all(not p.requires_grad for p in vgg16.parameters())
    again = load_vgg("vgg16", "untrained", "cpu")
    assert again.fingerprint == vgg16.fingerprint
    for a, b in zip(vgg16.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)
    assert vgg16.status.source == "untrained" and not vgg16.status.trained
    assert "UNTRAINED" in str(vgg16.status.message)


def test_untrained_init_does_not_disturb_global_rng():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    load_vgg("vgg16", "untrained", "cpu")
    assert torch.equal(torch.rand(3), expected)


# --------------------------------------------------------------------------- accepted files


@pytest.mark.parametrize("fmt", ["full", "features_prefixed", "features_bare", "safetensors", "wrapped"])
def test_weights_formats_round_trip(tmp_path, fmt):
    sd = _trained_like_sd()
    if fmt == "full":
        full = {f"features.{k}": v for k, v in sd.items()}
        full.update({"classifier.0.weight": torch.zeros(8, 4), "classifier.6.bias": torch.zeros(10)})
        obj, name = full, "vgg16.pth"
    elif fmt == "features_prefixed":
        obj, name = {f"features.{k}": v for k, v in sd.items()}, "f.pth"
    elif fmt == "features_bare":
        obj, name = sd, "bare.pt"
    elif fmt == "wrapped":
        obj, name = {"state_dict": sd, "epoch": 3}, "ckpt.pth"
    else:
        obj, name = {f"features.{k}": v.contiguous() for k, v in sd.items()}, "model.safetensors"
    path = tmp_path / name
    if name.endswith(".safetensors"):
        save_file(obj, str(path))
    else:
        torch.save(obj, path)
    m = load_vgg("vgg16", path, "cpu")
    assert m.status.source == "file" and m.status.trained and m.status.location == name
    for k, v in m.features.state_dict().items():
        assert torch.equal(v, sd[k]), k


def test_env_var_weights(tmp_path, monkeypatch):
    path = tmp_path / "mine.pth"
    torch.save(_trained_like_sd(), path)
    monkeypatch.setenv("PERCEPTUAL_VIZ_WEIGHTS", str(path))
    sd, status = resolve_weights("vgg16", "auto")
    assert status.source == "file" and status.location == "mine.pth" and sd is not None


def test_wrong_arch_file_names_missing_keys(tmp_path):
    path = tmp_path / "v16.pth"
    torch.save(_trained_like_sd("vgg16"), path)
    with pytest.raises(WeightsError) as e:
        load_vgg("vgg19", path, "cpu")
    msg = str(e.value)
    assert "missing keys" in msg and "13 conv layers" in msg


def test_wrong_shapes_and_unexpected_keys(tmp_path):
    sd = _trained_like_sd()
    sd["0.weight"] = torch.zeros(64, 1, 3, 3)
    sd["extra.thing"] = torch.zeros(1)
    path = tmp_path / "bad.pth"
    torch.save(sd, path)
    with pytest.raises(WeightsError) as e:
        load_vgg("vgg16", path, "cpu")
    msg = str(e.value)
    assert "mismatched shapes: 0.weight (64, 1, 3, 3) (expected (64, 3, 3, 3))" in msg
    assert "unexpected keys: extra.thing" in msg


def test_partial_file_is_rejected_not_partially_loaded(tmp_path):
    sd = _trained_like_sd()
    del sd["28.weight"], sd["28.bias"]
    path = tmp_path / "partial.pth"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match="missing keys: 28.weight, 28.bias"):
        load_vgg("vgg16", path, "cpu")


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"0.weight": torch.zeros(1), "fn": print}, path)
    with pytest.raises(WeightsError, match="weights_only=True"):
        load_vgg("vgg16", path, "cpu")


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(WeightsError, match="not found: nope.pth"):
        load_vgg("vgg16", tmp_path / "nope.pth", "cpu")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"definitely not a checkpoint")
    with pytest.raises(WeightsError, match="could not read junk.pth"):
        load_vgg("vgg16", junk, "cpu")
    # The message names the file, never the server's directories.
    with pytest.raises(WeightsError) as e:
        load_vgg("vgg16", junk, "cpu")
    assert str(tmp_path) not in str(e.value)


# --------------------------------------------------------------------------- resolution chain


def test_auto_prefers_torch_hub_cache(tmp_path):
    ckpt = tmp_path / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.hub.set_dir(str(tmp_path / "hub"))
    full = {f"features.{k}": v for k, v in _trained_like_sd().items()}
    full["classifier.0.weight"] = torch.zeros(2, 2)
    torch.save(full, ckpt / "vgg16-397923af.pth")
    m = load_vgg("vgg16", "auto", "cpu")
    assert m.status.source == "torch-hub-cache" and m.status.trained


def test_auto_uses_hf_cache(tmp_path, monkeypatch):
    snap = tmp_path / "hf" / "models--timm--vgg19.tv_in1k" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("abc123")
    sd = {f"features.{k}": v.contiguous() for k, v in _trained_like_sd("vgg19").items()}
    sd["pre_logits.fc1.weight"] = torch.zeros(4, 4)  # timm's head: ignored
    save_file(sd, str(snap / "model.safetensors"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    m = load_vgg("vgg19", "auto", "cpu")
    assert m.status.source == "hf-cache" and m.status.location == "timm/vgg19.tv_in1k"


def test_offline_falls_back_to_untrained_without_network(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("offline mode must not try the network")

    monkeypatch.setattr(bb, "_download", boom)
    sd, status = resolve_weights("vgg16", "auto")
    assert sd is None and status.source == "untrained" and "offline" in str(status.message)


def test_download_failure_is_reported_and_falls_back(monkeypatch):
    monkeypatch.delenv("PERCEPTUAL_VIZ_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def unreachable(arch, timeout):
        raise TimeoutError("simulated")

    monkeypatch.setattr(bb, "_download", unreachable)
    _, status = resolve_weights("vgg16", "auto")
    assert status.source == "untrained" and "download failed (TimeoutError)" in str(status.message)
    with pytest.raises(WeightsError, match="no ImageNet vgg16 weights available"):
        resolve_weights("vgg16", "imagenet")


def test_download_success_path(monkeypatch):
    monkeypatch.delenv("PERCEPTUAL_VIZ_OFFLINE")
    sd = {f"features.{k}": v for k, v in _trained_like_sd().items()}
    monkeypatch.setattr(bb, "_download", lambda arch, timeout: sd)
    m = load_vgg("vgg16", "auto", "cpu")
    assert m.status.source == "download" and m.status.trained


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fake_download(monkeypatch, tmp_path, payload: bytes, name_hash: str | None = None):
    """Point the vgg16 download at ``payload`` (named with its own hash unless given one)."""
    digest = name_hash or hashlib.sha256(payload).hexdigest()[:8]
    url = f"https://download.pytorch.org/models/vgg16-{digest}.pth"
    patched = dataclasses.replace(ARCHITECTURES["vgg16"], torchvision_url=url)
    monkeypatch.setitem(ARCHITECTURES, "vgg16", patched)
    monkeypatch.setattr(bb, "_reachable", lambda host, timeout: True)
    seen: dict[str, object] = {}

    def urlopen(url, timeout=None):
        seen["timeout"] = timeout
        seen["default_during_call"] = socket.getdefaulttimeout()
        return _FakeResponse(payload)

    monkeypatch.setattr(bb, "urlopen", urlopen)
    return seen


def test_download_sets_its_own_timeout_not_the_process_default(monkeypatch, tmp_path):
    buf = io.BytesIO()
    torch.save({f"features.{k}": v for k, v in _trained_like_sd().items()}, buf)
    seen = _fake_download(monkeypatch, tmp_path, buf.getvalue())
    before = socket.getdefaulttimeout()
    sd = bb._download("vgg16", 7.5)
    assert seen["timeout"] == 7.5, "the timeout belongs to the download's own connection"
    assert seen["default_during_call"] == before, "the process-wide socket timeout must not change"
    assert socket.getdefaulttimeout() == before
    assert set(bb.features_state_dict(sd, "vgg16")) == set(_trained_like_sd())
    assert bb._hub_cache_file("vgg16").is_file(), "the download lands in torch hub's cache"
    assert not list(bb._hub_cache_file("vgg16").parent.glob("*.partial"))


def test_corrupt_download_leaves_nothing_in_the_cache(monkeypatch, tmp_path):
    _fake_download(monkeypatch, tmp_path, b"not the weights", name_hash="397923af")
    with pytest.raises(ConnectionError, match="hash mismatch"):
        bb._download("vgg16", 5.0)
    folder = bb._hub_cache_file("vgg16").parent
    assert not bb._hub_cache_file("vgg16").exists() and not list(folder.glob("*.partial"))


def test_pick_device_auto_is_cpu_here_and_cuda_request_is_checked():
    assert bb.pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert bb.pick_device("auto").type in ("cpu", "mps")
        with pytest.raises(ValueError, match="CUDA is not available"):
            bb.pick_device("cuda")


def test_unknown_arch():
    with pytest.raises(ValueError, match="choose one of vgg16, vgg19"):
        load_vgg("resnet50", "untrained")


def test_reachability_probe_does_not_block_on_a_hanging_resolver(monkeypatch):
    import time

    def hang(*a, **k):
        time.sleep(3)  # a resolver that does not answer in time
        raise OSError("resolver timed out")

    monkeypatch.setattr(bb.socket, "create_connection", hang)
    t0 = time.monotonic()
    assert bb._reachable("download.pytorch.org", 0.3) is False
    assert time.monotonic() - t0 < 2.0
