"""Teaching text shown next to each view: short, with the formulas the numbers come from."""

INTRO = """\
# Perceptual Loss Lab
Why does a network's "eye" judge images better than pixel errors? Upload a picture (or click a
sample) and follow it through VGG: **Feature maps** shows what each layer responds to,
**Gram matrices** shows where style lives, **Compare** scores a clean image against a damaged
one with every metric, **Sweep** shows how the metrics disagree as the damage grows,
**Equal MSE** makes the same pixel error seven different ways, and **What does a layer keep?**
rebuilds an image from nothing but one layer's features (or only its Gram matrices).
"""

FEATURES = r"""
**What is a channel?** Each conv layer applies C learned filters. Channel *c* is the map of
where filter *c* fires: $F_l \in \mathbb{R}^{C_l \times H_l \times W_l}$.

**Why are deep maps coarse?** Every pool halves the resolution (stride 1 → 2 → 4 → 8 → 16),
while each pixel sees a larger part of the input (its *receptive field*: 5 px at relu1_2,
196 px at relu5_3). Shallow layers respond to edges, colour and fine texture. Deep layers
respond to parts and objects.

**Perceptual loss** compares these maps instead of pixels:
$\;\mathcal{L} = \sum_l w_l \,\frac{1}{N_l}\lVert \phi_l(x) - \phi_l(y)\rVert_1$,
summed over the chosen layers (the reference uses relu1_2 … relu4_3).

*Click a tile of the grid to enlarge that channel.*
"""

GRAM = r"""
**Style lives in correlations.** Reshape a layer's map to $A \in \mathbb{R}^{C \times HW}$.
The Gram matrix $G = A A^\top$ holds, for every pair of channels $(i, j)$, how strongly they
fire *together*, summed over all positions: $G_{ij} = \sum_p F_i(p)\,F_j(p)$.
It forgets *where* things are, so two images with the same texture in a different layout have
similar Grams.

**Style loss** (Gatys et al.): $\;E_l = \frac{1}{4N_l^2M_l^2}\sum_{ij}(G^A_{ij} - G^B_{ij})^2$
with $N_l$ channels and $M_l = H_l W_l$. Raw Gram values grow with image size, so the
normalisation used is always shown.

*Click a cell of G_A to see the two channels and their product: the cell is the sum of the product.*
"""

COMPARE = r"""
**Why do MSE and perception disagree?** MSE $=\frac{1}{N}\sum (a-b)^2$ adds up pixel errors
one by one. A slight brightness shift changes every pixel (large MSE) but looks the same.
Blur removes the structure you notice, with a smaller MSE. A one-pixel shift of a sharp image
has a huge MSE and looks identical.
PSNR $= 10\log_{10}(1/\mathrm{MSE})$ is the same thing in decibels.

**SSIM** compares local means, variances and covariance in a Gaussian window (11×11, σ = 1.5):
$\frac{(2\mu_a\mu_b + C_1)(2\sigma_{ab} + C_2)}{(\mu_a^2+\mu_b^2+C_1)(\sigma_a^2+\sigma_b^2+C_2)}$.

**Perceptual** distances compare VGG features. **LPIPS** weights unit-normalised features with
weights learned from human judgements.
"""

SWEEP = """
Each degradation is applied at K growing strengths, and every image is scored in **one batched
VGG pass**. Every metric is divided by its largest value in the sweep, so all curves share a
0–1 scale: look at the *order* in which the degradations hurt each metric.
"""


def status_markdown(arch: str, message: str, trained: bool, device: str) -> str:
    """The status line; a loud banner when the weights are untrained."""
    line = f"**{arch}** · weights: {message} · device: **{device}**"
    if trained:
        return line
    return (
        "<div style='background:#b91c1c;color:white;padding:10px 14px;border-radius:8px;"
        "font-weight:600'>⚠️ UNTRAINED WEIGHTS: the feature maps below are random filters, not what an "
        "ImageNet-trained VGG sees. Start the app with <code>--weights vgg16.pth</code> or put "
        "torchvision's weights in the torch hub cache.</div>\n\n" + line
    )


def loading_markdown(arch: str) -> str:
    """The status line while a backbone loads (after a switch, or on first use)."""
    return (
        f"**Loading {arch}…** finding its weights (file → torch hub cache → Hugging Face cache → "
        "download) and building the network. The views redraw when it is ready; everyone else's "
        "requests carry on meanwhile."
    )


EQUAL_MSE = r"""
**Same MSE, different damage.** For each degradation the strength is found (by bisection) that
gives the *same* mean squared error
$\;\mathrm{MSE} = \frac{1}{N}\sum_p (x_p - y_p)^2$ — so PSNR is identical too. MSE says these
images are equally far from the original. Look at them: a brightness shift or a contrast
stretch keeps every edge, noise and blur destroy structure, JPEG adds blocks. SSIM, the
perceptual distance and LPIPS rank them very differently, and closer to what you see.
Strengths that move in whole steps (JPEG quality, translation in pixels) may not hit the target
exactly: the achieved MSE is shown and marked ⚠️.
"""

RECONSTRUCT = r"""
**What does a layer keep?** Start from noise and change the *pixels* until the image's
features at a layer match the original's (*feature inversion*,
$\min_x \lVert \phi_l(x) - \phi_l(t)\rVert^2 / \lVert \phi_l(t)\rVert^2 + \lambda\,\mathrm{TV}(x)$).
Whatever comes back is what the layer kept. Try relu1_2, then relu3_3, then relu4_3: shallow
layers give back the photo; deep layers keep the layout and the objects but not the exact
texture or colour. **Texture synthesis** matches only the Gram matrices $G = F F^\top$ of the
chosen layers: the texture returns, the layout does not — the picture that shows why style
loss uses Grams. $\mathrm{TV}(x)$ (squared differences with the right and lower neighbours)
keeps the result smooth. With untrained weights the reconstructions show what *random*
filters keep — compare with trained weights.
"""
