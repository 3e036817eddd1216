"""What the library sections share: the peer libraries, the photo pair every value check and
timing uses (astronaut vs astronaut + N(0, 0.1²) noise), its tensors, and the models (our seeded
untrained VGG16, and ``lpips.LPIPS`` with the same weights copied into its slices)."""

from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.harness import progress, try_import
from benchmarks.sections import Context
from perceptual_viz.assets import sample
from perceptual_viz.backbone import VGGFeatures, load_vgg

NOISE_SIGMA = 0.1
SEED = 0
ASSET_PHOTO = sample("astronaut.png")
LAYOUTS = ("contiguous", "channels-last")
# Import name → distribution name (for its version in the report's header).
PEER_DISTS = {
    "pytorch_msssim": "pytorch-msssim",
    "piq": "piq",
    "kornia": "kornia",
    "skimage": "scikit-image",
    "lpips": "lpips",
}


def import_peers() -> dict[str, ModuleType | None]:
    """Every peer module by import name; ``None`` where it is missing or broken."""
    return {name: try_import(name) for name in PEER_DISTS}


def astronaut() -> np.ndarray:
    """The astronaut photo, 512×512×3 float32 in [0, 1]: scikit-image's copy, else the repo's asset."""
    try:
        import skimage.data

        img = skimage.data.astronaut()
    except ImportError:
        from PIL import Image

        with Image.open(ASSET_PHOTO) as im:
            img = np.asarray(im.convert("RGB"))
    return img.astype(np.float32) / 255.0


def noisy(a: np.ndarray, seed: int) -> np.ndarray:
    """``a`` + N(0, σ²) noise, σ = 0.1, clipped to [0, 1], float32."""
    rng = np.random.default_rng(seed)
    return np.clip(a + NOISE_SIGMA * rng.standard_normal(a.shape), 0.0, 1.0).astype(np.float32)


def to_tensor(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """H×W×3 (or N×H×W×3) numpy → (N, 3, H, W) float32 tensor on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(a))
    t = t[None] if t.ndim == 3 else t
    return t.permute(0, 3, 1, 2).contiguous().to(device)


def to_tensor_as(a: np.ndarray, device: torch.device, layout: str) -> torch.Tensor:
    """Like :func:`to_tensor`, in ``layout``: "channels-last" is what users get from
    ``torch.from_numpy(hwc).permute(2, 0, 1)[None]`` (no copy; batch stride 3 for one image)."""
    if layout == "contiguous":
        return to_tensor(a, device)
    t = torch.from_numpy(np.ascontiguousarray(a))
    t = t.permute(2, 0, 1)[None] if t.ndim == 3 else t.permute(0, 3, 1, 2)
    return t.to(device)


def resized(a: np.ndarray, size: int) -> np.ndarray:
    """Antialiased bilinear resize of an H×W×3 photo to size×size."""
    if a.shape[:2] == (size, size):
        return a
    t = torch.from_numpy(a).permute(2, 0, 1)[None]
    t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return t.clamp(0, 1)[0].permute(1, 2, 0).contiguous().numpy()


def make_lpips(lp_mod: ModuleType | None, model: VGGFeatures) -> torch.nn.Module | None:
    """``lpips.LPIPS`` (VGG, v0.1 linear weights) with our backbone's weights copied into its slices."""
    if lp_mod is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lp = lp_mod.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False)
    sd = {k: v.detach().cpu() for k, v in model.features.state_dict().items()}
    for i in range(1, 6):
        sl = getattr(lp.net, f"slice{i}")
        sl.load_state_dict({k: sd[k] for k in sl.state_dict()})
    return lp.to(model.device).eval().requires_grad_(False)


def models(ctx: Context) -> tuple[VGGFeatures, torch.nn.Module | None]:
    """Our untrained VGG16 and lpips' copy of it, built by the first section that asks."""
    if "models" not in ctx.shared:
        model = load_vgg("vgg16", "untrained", ctx.device)
        ctx.shared["models"] = model, make_lpips(ctx.peers["lpips"], model)
        progress("models ready")
    return ctx.shared["models"]
