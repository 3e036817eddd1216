"""What does a channel look for? An image optimised to excite one channel (feature visualisation).

Olah, Mordvintsev & Schubert (2017), "Feature Visualization": plain gradient ascent on pixels
finds high-frequency patterns that excite a channel without looking like anything. Two standard
cures make the result readable, and both are used here:

- **a decorrelated parameterisation**: the image is optimised as a Fourier spectrum whose
  coefficients are scaled by 1/frequency (so low frequencies move as easily as high ones), in a
  colour space decorrelated with the square root of ImageNet's colour covariance, and squashed
  into [0, 1] with a sigmoid;
- **transformation robustness**: at every step the image is padded, jittered by a few pixels,
  scaled (±10 %) and rotated (±8°) at random before VGG sees it, so only patterns that survive
  small moves can excite the channel.

Adam maximises the channel's mean activation. Shallow layers give colours and edges, relu3 and
relu4 textures and motifs, the deepest layers parts of objects. ``visualize`` streams
:class:`VisualizeStep` reports like :func:`perceptual_viz.lessons.reconstruct.reconstruct`,
stops early on ``should_stop()`` or ``deadline``, and never changes the shared model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from ..backbone import VGGFeatures
from ..errors import InputError
from ..messages import msg
from ..options import StopReason
from .reconstruct import stop_reason

# Square root of ImageNet's colour correlation (lucid's ``color_correlation_svd_sqrt``).
COLOUR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
DECAY = 1.0  # spectrum scaled by 1 / frequency^DECAY
PAD, JITTER = 12, 8
SCALES = (0.9, 1.1)
ROTATE_DEG = 8.0


def limits(device: torch.device | str) -> tuple[int, int]:
    """(max steps, max side in px) on ``device``: small on a CPU, larger on a GPU."""
    return (2048, 384) if torch.device(device).type == "cuda" else (512, 160)


@dataclass(frozen=True)
class VisualizeSettings:
    """One channel to visualise and how hard to try; ``None`` steps → per-device default."""

    layer: str = "relu4_3"
    channel: int = 0
    steps: int | None = None
    size: int = 112
    lr: float = 0.05
    seed: int = 0

    def resolved(self, model: VGGFeatures) -> VisualizeSettings:
        """A copy with the default steps filled in and every value checked."""
        info = model.info(self.layer)
        max_steps, max_px = limits(model.device)
        steps = self.steps if self.steps is not None else (512 if model.device.type == "cuda" else 160)
        dev = model.device.type
        if not 0 <= int(self.channel) < info.channels:
            raise InputError(
                msg(
                    "{layer} has channels 0..{last}; got {value}",
                    layer=self.layer,
                    last=info.channels - 1,
                    value=self.channel,
                )
            )
        if not 1 <= int(steps) <= max_steps:
            raise InputError(
                msg(
                    "steps must be between 1 and {top} on {device}; got {value}",
                    top=max_steps,
                    device=dev,
                    value=steps,
                )
            )
        if not 32 <= int(self.size) <= max_px:
            raise InputError(
                msg(
                    "the size must be between 32 and {top} px on {device}; got {value}",
                    top=max_px,
                    device=dev,
                    value=self.size,
                )
            )
        if not 0 < float(self.lr) <= 1:
            raise InputError(msg("the learning rate must be in (0, 1]; got {value}", value=self.lr))
        return replace(
            self, channel=int(self.channel), steps=int(steps), size=int(self.size), seed=int(self.seed)
        )


@dataclass
class VisualizeStep:
    """One progress report of :func:`visualize`."""

    step: int
    total: int
    image: torch.Tensor  # (1, 3, s, s) float32 in [0, 1], on the CPU
    activation: float  # the channel's mean activation on the (untransformed) image
    seconds: float
    done: bool = False
    stopped: StopReason = ""  # "" or why it stopped early: "cancelled", "time limit"


class _FourierImage:
    """A (1, 3, s, s) image as a 1/f-scaled spectrum in a decorrelated colour space."""

    def __init__(self, size: int, seed: int, device: torch.device) -> None:
        g = torch.Generator().manual_seed(seed)
        fy = torch.fft.fftfreq(size)[:, None]
        fx = torch.fft.rfftfreq(size)[None, :]
        freq = torch.sqrt(fx**2 + fy**2).clamp_min(1.0 / size)
        self.scale = (0.25 / freq**DECAY).to(device)
        shape = (1, 3, size, size // 2 + 1, 2)
        self.spectrum = (0.01 * torch.randn(shape, generator=g)).to(device).requires_grad_(True)
        self.size = size
        colour = COLOUR_SQRT / COLOUR_SQRT.norm(dim=0).max()
        self.colour = colour.to(device)

    def __call__(self) -> torch.Tensor:
        spec = torch.view_as_complex(self.spectrum) * self.scale
        x = torch.fft.irfftn(spec, s=(self.size, self.size), norm="ortho")
        x = torch.einsum("nchw,dc->ndhw", x, self.colour)
        return torch.sigmoid(x)


def _transform(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Pad, jitter, scale and rotate ``x`` at random (robustness to small moves)."""
    x = F.pad(x, (PAD,) * 4, mode="constant", value=0.5)
    dx, dy = (int(v) for v in torch.randint(0, 2 * JITTER + 1, (2,), generator=g))
    x = x[..., dy : x.shape[-2] - 2 * JITTER + dy, dx : x.shape[-1] - 2 * JITTER + dx]
    s = SCALES[0] + float(torch.rand((), generator=g)) * (SCALES[1] - SCALES[0])
    angle = math.radians((float(torch.rand((), generator=g)) * 2 - 1) * ROTATE_DEG)
    cos, sin = math.cos(angle) / s, math.sin(angle) / s
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=x.dtype, device=x.device)[None]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="reflection", align_corners=False)


def visualize(
    model: VGGFeatures,
    settings: VisualizeSettings,
    *,
    every: int = 10,
    should_stop: Callable[[], bool] | None = None,
    deadline: float | None = None,
) -> Iterator[VisualizeStep]:
    """Optimise an image to excite one channel; a report every ``every`` steps and at the end."""
    s = settings.resolved(model)
    total = int(s.steps or 0)
    image = _FourierImage(s.size, s.seed, model.device)
    opt = torch.optim.Adam([image.spectrum], lr=s.lr)
    g = torch.Generator().manual_seed(s.seed + 1)
    t0 = time.monotonic()
    step = 0
    while True:
        stopped = stop_reason(should_stop, deadline)
        last = bool(stopped) or step >= total
        if last or step % max(1, every) == 0:
            with torch.no_grad():
                x = image()
                act = float(model(x, [s.layer])[s.layer][0, s.channel].mean())
            yield VisualizeStep(step, total, x.detach().cpu(), act, time.monotonic() - t0, last, stopped)
        if last:
            return
        with torch.enable_grad():
            out = model(_transform(image(), g), [s.layer])[s.layer]
            loss = -out[0, s.channel].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
        opt.step()
        step += 1
