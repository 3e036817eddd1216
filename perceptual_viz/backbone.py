"""The VGG backbone: building it, finding weights for it, and saying honestly where they came from.

``load_vgg`` returns a frozen, ``eval()``-mode :class:`VGGFeatures` — torchvision's
``vgg16().features`` (or vgg19) with ImageNet normalisation in front — and a
:class:`WeightsStatus` telling where the weights came from and whether they are trained.

Weight resolution for ``weights="auto"``, first hit wins:

1. an explicit path, or the ``PERCEPTUAL_VIZ_WEIGHTS`` environment variable;
2. torch hub's cache (``$TORCH_HOME/hub/checkpoints/vgg16-397923af.pth`` — torchvision's file);
3. the Hugging Face cache (``timm/vgg16.tv_in1k`` ``model.safetensors``; same features layout);
4. torchvision's download, with a short timeout — skipped when ``PERCEPTUAL_VIZ_OFFLINE=1`` or
   ``HF_HUB_OFFLINE=1``;
5. untrained weights, seeded and deterministic (torchvision's Kaiming initialisation).

Accepted files: a full torchvision VGG state dict, a features-only one (keys with or without
the ``features.`` prefix), either as ``.pth``/``.pt`` (always ``torch.load(weights_only=True)``)
or ``.safetensors``. A file that does not fit gets a :class:`WeightsError` naming the missing or
unexpected keys or the mismatched shapes; nothing is ever partially loaded.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.request import urlopen

import torch
from torch import nn

from .archs import ARCHITECTURES, STAGE_CHANNELS, Arch, check_arch
from .errors import InputError
from .layers import LayerInfo, layers
from .messages import Text, msg
from .options import WeightsSource

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
UNTRAINED_SEED = 0
DOWNLOAD_TIMEOUT_S = 10.0
WEIGHTS_ENV = "PERCEPTUAL_VIZ_WEIGHTS"
OFFLINE_ENVS = ("PERCEPTUAL_VIZ_OFFLINE", "HF_HUB_OFFLINE")

# Keys of a full checkpoint that are not part of ``features`` and are fine to ignore.
_HEAD_PREFIXES = ("classifier.", "pre_logits.", "head.", "avgpool.")


class WeightsError(InputError):
    """A weights file or request that cannot be honoured; the message says exactly why."""


@dataclass(frozen=True)
class WeightsStatus:
    """Where the backbone's weights came from."""

    source: WeightsSource
    trained: bool
    location: str | None  # file name (no directories) or repo id, for display
    message: Text  # one line for a status bar / CLI (a message: worded by whoever shows it)

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "trained": self.trained, "location": self.location}


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → cuda, then mps, then cpu; anything else is passed to ``torch.device``."""
    if str(device) != "auto":
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise InputError("device 'cuda' requested but CUDA is not available here")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class VGGFeatures(nn.Module):
    """ImageNet normalisation followed by VGG's convolutional ``features`` — nothing else.

    Input: RGB float in [0, 1], shape (N, 3, H, W) (grey (N, 1, H, W) is repeated to 3 channels).
    ``forward(x, names)`` runs once, up to the deepest requested layer, and returns the named
    activations. Pre-activation (conv) outputs are cloned before torchvision's in-place ReLU can
    overwrite them.
    """

    def __init__(self, arch: Arch, features: nn.Sequential, status: WeightsStatus) -> None:
        super().__init__()
        self.arch: Arch = check_arch(arch)
        self.features = features
        self.status = status
        self.layers: tuple[LayerInfo, ...] = layers(self.arch)
        self._by_name = {info.name: info for info in self.layers}
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.fingerprint = _fingerprint(features)  # identifies the weights, for cache keys
        self.forward_count = 0  # forward passes run; tests and the cache use it to prove reuse
        # The GPU path: the forward runs under autocast in this dtype on CUDA (None: fp32 there
        # too). Distances, Grams and SSIM always cast to fp32 themselves.
        self.amp_dtype: torch.dtype | None = None
        self._count_lock = threading.Lock()
        self.requires_grad_(False)
        self.eval()

    mean: torch.Tensor
    std: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def info(self, name: str) -> LayerInfo:
        if name not in self._by_name:
            valid = ", ".join(self._by_name)
            raise InputError(f"{self.arch} has no layer {name!r}; valid names: {valid}")
        return self._by_name[name]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """[0,1] RGB (or grey) → ImageNet-normalised RGB."""
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise InputError(f"expected images of shape (N, 3, H, W) or (N, 1, H, W), got {tuple(x.shape)}")
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: torch.Tensor, names: list[str] | tuple[str, ...]) -> dict[str, torch.Tensor]:
        """Named activations of ``x`` ([0,1] RGB) for ``names``, in one pass."""
        wanted = {self.info(n).index: n for n in names}
        if not wanted:
            return {}
        last = max(wanted)
        mods = self.features
        with self._count_lock:
            self.forward_count += 1
        # channels-last: oneDNN and cuDNN run VGG's convolutions ~25% faster in this layout.
        h = self.normalize(x).contiguous(memory_format=torch.channels_last)
        out: dict[str, torch.Tensor] = {}
        amp = self.amp_dtype is not None and h.device.type == "cuda"
        with torch.autocast("cuda", dtype=self.amp_dtype or torch.float16, enabled=amp):
            for i in range(last + 1):
                h = mods[i](h)
                if i in wanted:
                    nxt = mods[i + 1] if i + 1 < len(mods) else None
                    inplace_next = isinstance(nxt, nn.ReLU) and nxt.inplace and i < last
                    out[wanted[i]] = h.clone() if inplace_next else h
        return out


# --------------------------------------------------------------------------- weights files


def _fingerprint(features: nn.Sequential) -> str:
    """A short hash of the first and last conv weights: distinguishes any two weight sets."""
    convs = [m for m in features if isinstance(m, nn.Conv2d)]
    h = hashlib.blake2b(digest_size=8)
    for m in (convs[0], convs[-1]):
        h.update(m.weight.detach().to("cpu", torch.float32).numpy().tobytes())
    return h.hexdigest()


def _offline() -> bool:
    return any(os.environ.get(k, "").strip().lower() in ("1", "true", "yes") for k in OFFLINE_ENVS)


def make_features(arch: Arch) -> nn.Sequential:
    """torchvision's ``vgg.make_layers(cfgs["D" | "E"])`` for ``arch``: the same modules in the
    same order, so the same state-dict keys and the same draws from the random generator
    (tests compare the two). Built here because importing ``torchvision.models`` costs about
    two seconds of every start of the app and the CLI."""
    mods: list[nn.Module] = []
    c_in = 3
    for n_convs, c_out in zip(ARCHITECTURES[check_arch(arch)].convs_per_stage, STAGE_CHANNELS, strict=True):
        for _ in range(n_convs):
            mods += [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            c_in = c_out
        mods.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*mods)


def _build_features(arch: Arch) -> nn.Sequential:
    """torchvision's ``features`` for ``arch``, with torchvision's init under a fixed seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        feats = make_features(arch)
        for m in feats.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    return feats


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` or torch file safely (``weights_only=True``) into CPU tensors."""
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"weights file not found: {p.name}")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd: object = load_file(str(p), device="cpu")
        else:
            sd = torch.load(str(p), map_location="cpu", weights_only=True)
    except WeightsError:
        raise
    except Exception as exc:  # unreadable, pickled code, not a checkpoint at all
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(
            f"could not read {p.name} as a safe weights file (weights_only=True): {first[:200]}"
        ) from None
    # Common wrappers: {"state_dict": ...}, {"model": ...}
    if isinstance(sd, Mapping):
        for key in ("state_dict", "model"):
            inner = sd.get(key)
            if (
                isinstance(inner, Mapping)
                and inner
                and all(isinstance(v, torch.Tensor) for v in inner.values())
            ):
                sd = inner
                break
    if not isinstance(sd, Mapping) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsError(f"{p.name} does not contain a state dict of tensors")
    return dict(sd)


def _short(keys: list[str], n: int = 6) -> str:
    more = f" … (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def features_state_dict(sd: Mapping[str, torch.Tensor], arch: Arch) -> dict[str, torch.Tensor]:
    """Map a full / features-only / prefixed state dict onto ``features``' keys, or explain why not.

    Raises :class:`WeightsError` listing missing keys, unexpected keys and mismatched shapes.
    """
    arch = check_arch(arch)
    expected = _build_features_shapes(arch)
    has_prefix = any(k.startswith("features.") for k in sd)
    mapped: dict[str, torch.Tensor] = {}
    unexpected: list[str] = []
    for k, v in sd.items():
        if has_prefix:
            if k.startswith("features."):
                mapped[k[len("features.") :]] = v
            elif not k.startswith(_HEAD_PREFIXES):
                unexpected.append(k)
        else:
            mapped[k] = v
    unexpected += [k for k in mapped if k not in expected]
    missing = [k for k in expected if k not in mapped]
    shapes = [
        f"{k} {tuple(mapped[k].shape)} (expected {expected[k]})"
        for k in expected
        if k in mapped and tuple(mapped[k].shape) != expected[k]
    ]
    if missing or unexpected or shapes:
        n_conv = sum(1 for k in mapped if k.endswith(".weight") and mapped[k].ndim == 4)
        parts = [f"weights do not fit {arch}"]
        if n_conv and n_conv != ARCHITECTURES[arch].conv_count:
            parts.append(f"(the file has {n_conv} conv layers; vgg16 has 13, vgg19 has 16)")
        if missing:
            parts.append(f"missing keys: {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_short(unexpected)}")
        if shapes:
            parts.append(f"mismatched shapes: {_short(shapes, 3)}")
        raise WeightsError("; ".join(parts))
    return {k: mapped[k].float() for k in expected}


_SHAPES: dict[Arch, dict[str, tuple[int, ...]]] = {}


def _build_features_shapes(arch: Arch) -> dict[str, tuple[int, ...]]:
    if arch not in _SHAPES:
        with torch.device("meta"):
            feats = make_features(arch)
        _SHAPES[arch] = {k: tuple(v.shape) for k, v in feats.state_dict().items()}
    return _SHAPES[arch]


# --------------------------------------------------------------------------- resolution


def _hub_cache_file(arch: Arch) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / ARCHITECTURES[arch].torchvision_file


def _hf_cache_file(arch: Arch) -> Path | None:
    """``model.safetensors`` of ``timm/<arch>.tv_in1k`` in the Hugging Face cache, if present."""
    arch_spec = ARCHITECTURES[arch]
    hub = os.environ.get("HF_HUB_CACHE")
    if not hub:
        home = os.environ.get("HF_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface"
        )
        hub = os.path.join(home, "hub")
    repo_dir = Path(hub) / ("models--" + arch_spec.hf_repo.replace("/", "--"))
    snapshots = repo_dir / "snapshots"
    if not snapshots.is_dir():
        return None
    ref = repo_dir / "refs" / "main"
    order = [snapshots / ref.read_text().strip()] if ref.is_file() else []
    order += sorted(snapshots.iterdir())
    for snap in order:
        f = snap / arch_spec.hf_file
        if f.is_file():
            return f
    return None


def _reachable(host: str, timeout: float) -> bool:
    """Can we open a TCP connection to ``host`` within ``timeout`` seconds — DNS included?

    ``create_connection``'s timeout does not cover name resolution, which can hang for many
    seconds on a machine without a resolver, so the probe runs in a daemon thread and we stop
    waiting after ``timeout`` whatever it is doing.
    """
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            ok.append(True)
        except Exception:  # a probe never raises: unreachable is the answer
            ok.append(False)

    t = threading.Thread(target=probe, name="weights-probe", daemon=True)
    t.start()
    t.join(timeout)
    return bool(ok and ok[0])


def _download(arch: Arch, timeout: float) -> dict[str, torch.Tensor]:
    """torchvision's weights into torch hub's cache, failing fast when the host is unreachable.

    ``timeout`` bounds connecting and each read of *this* connection only: the process-wide
    socket default is never touched, since a request thread changing it would change every
    other connection of the app. The file is checked against the hash prefix in its name (as
    torch hub does) and moved into place only when complete.
    """
    if not _reachable("download.pytorch.org", min(timeout, 3.0)):
        raise ConnectionError("download.pytorch.org is not reachable")
    url = ARCHITECTURES[arch].torchvision_url
    dest = _hub_cache_file(arch)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}.{threading.get_ident()}.partial")
    digest = hashlib.sha256()
    try:
        with urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        expected = re.search(r"-([a-f0-9]+)\.", os.path.basename(url))
        if expected and not digest.hexdigest().startswith(expected.group(1)):
            raise ConnectionError(f"the download of {os.path.basename(url)} is corrupt (hash mismatch)")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return read_state_dict(dest)


def _untrained_status(arch: Arch, why: Text) -> WeightsStatus:
    return WeightsStatus(
        "untrained",
        False,
        None,
        msg(
            "UNTRAINED {arch} weights (seeded random filters; {why}) — feature maps and perceptual "
            "scores show what a random network sees, not an ImageNet-trained one.",
            arch=arch,
            why=why,
        ),
    )


def _from_caches(arch: Arch) -> tuple[dict[str, torch.Tensor], WeightsStatus] | None:
    """Steps 2 and 3 of the chain: torch hub's cache, then the Hugging Face cache."""
    hub = _hub_cache_file(arch)
    if hub.is_file():
        sd = features_state_dict(read_state_dict(hub), arch)
        return sd, WeightsStatus(
            "torch-hub-cache",
            True,
            hub.name,
            msg("ImageNet {arch} weights (torchvision, from the torch hub cache)", arch=arch),
        )
    hf = _hf_cache_file(arch)
    if hf is not None:
        repo = ARCHITECTURES[arch].hf_repo
        sd = features_state_dict(read_state_dict(hf), arch)
        return sd, WeightsStatus(
            "hf-cache",
            True,
            repo,
            msg("ImageNet {arch} weights ({repo}, from the Hugging Face cache)", arch=arch, repo=repo),
        )
    return None


def resolve_weights(
    arch: Arch = "vgg16", weights: str | os.PathLike[str] = "auto", *, timeout: float = DOWNLOAD_TIMEOUT_S
) -> tuple[dict[str, torch.Tensor] | None, WeightsStatus]:
    """Find weights for ``arch``: (features state dict or None for untrained, status).

    ``weights``: ``"auto"`` (the chain in the module docstring), ``"imagenet"`` (the same chain
    without the untrained fallback: raises if no trained weights can be had), ``"untrained"``,
    or a path to a file.
    """
    arch = check_arch(arch)
    w = os.fspath(weights) if isinstance(weights, os.PathLike) else str(weights)
    if w == "untrained":
        return None, _untrained_status(arch, msg("requested"))
    if w not in ("auto", "imagenet"):
        sd = features_state_dict(read_state_dict(w), arch)
        name = Path(w).name
        return sd, WeightsStatus(
            "file", True, name, msg("{arch} weights from file {name}", arch=arch, name=name)
        )
    env = os.environ.get(WEIGHTS_ENV, "").strip()
    if env:
        sd = features_state_dict(read_state_dict(env), arch)
        name = Path(env).name
        said = msg("{arch} weights from ${env} ({name})", arch=arch, env=WEIGHTS_ENV, name=name)
        return sd, WeightsStatus("file", True, name, said)
    cached = _from_caches(arch)
    if cached is not None:
        return cached
    tv_file = ARCHITECTURES[arch].torchvision_file
    why: Text = msg("offline mode is set")
    if not _offline():
        try:
            sd = features_state_dict(_download(arch, timeout), arch)
            return sd, WeightsStatus(
                "download",
                True,
                tv_file,
                msg("ImageNet {arch} weights (torchvision, downloaded)", arch=arch),
            )
        except WeightsError:
            raise
        except Exception as exc:  # no network, timeout, HTTP error
            why = msg("torchvision download failed ({error})", error=type(exc).__name__)
    if w == "imagenet":
        raise WeightsError(
            f"no ImageNet {arch} weights available ({why}); pass a file with --weights or "
            f"${WEIGHTS_ENV}, or place torchvision's {tv_file} in the torch hub cache"
        )
    return None, _untrained_status(arch, msg("no trained weights found; {why}", why=why))


def load_vgg(
    arch: Arch = "vgg16",
    weights: str | os.PathLike[str] = "auto",
    device: str | torch.device = "auto",
    *,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    amp: bool = True,
) -> VGGFeatures:
    """A frozen, eval-mode :class:`VGGFeatures` on ``device`` with ``.status`` telling its weights.

    On CUDA the forward runs under autocast (bf16 where supported, else fp16) unless ``amp`` is
    False; on CPU and MPS it is fp32.

    >>> import torch
    >>> model = load_vgg("vgg16", weights="untrained", device="cpu")  # "auto": ImageNet if found
    >>> model.status.source, model.status.trained
    ('untrained', False)
    >>> acts = model(torch.rand(1, 3, 32, 32), ["conv1_1", "relu3_3", "pool5"])
    >>> {name: tuple(a.shape) for name, a in acts.items()}
    {'conv1_1': (1, 64, 32, 32), 'relu3_3': (1, 256, 8, 8), 'pool5': (1, 512, 1, 1)}
    """
    arch = check_arch(arch)
    sd, status = resolve_weights(arch, weights, timeout=timeout)
    feats = _build_features(arch)
    if sd is not None:
        feats.load_state_dict(sd, strict=True)
    dev = pick_device(device)
    model = VGGFeatures(arch, feats, status).to(dev)
    # Channels-last weights, as the forward's activations: Module.to takes memory_format at run
    # time, though torch's type stubs do not list it.
    cast(Any, model).to(memory_format=torch.channels_last)
    if dev.type == "cuda" and amp:
        model.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return model
