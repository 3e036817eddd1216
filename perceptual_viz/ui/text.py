"""Teaching text shown next to each view: short, with the formulas the numbers come from."""

from ..chrome import can_draw
from ..messages import Joined, Text, language, msg

INTRO = """\
# Perceptual Loss Lab
Why does a network's "eye" judge images better than pixel errors? Upload a picture (or click a
sample) and follow it through VGG: **Feature maps** shows what each layer responds to,
**Gram matrices** shows where style lives, **Compare** scores a clean image against a damaged
one with every metric, **Sweep** shows how the metrics disagree as the damage grows,
**Equal MSE** makes the same pixel error seven different ways, **Train with it** trains small
networks with each loss, **Which looks closer?** lets a class vote on pairs of damaged photos,
**What does a layer keep?** rebuilds an image from nothing but one layer's features (or only its
Gram matrices), and **Style transfer** paints one photo in another's texture with the two losses.
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

GRAM_DISTS = r"""
**DISTS** (Ding et al. 2020) turns this idea into an image-quality score. It takes six stages of
VGG16 (the image itself, then relu1_2 … relu5_3, with each max-pool replaced by a smooth
L2-pool) and compares two things for every channel of every stage:

- **texture**: the channel's spatial means, as $\frac{2\mu_x\mu_y + c_1}{\mu_x^2 + \mu_y^2 + c_1}$;
- **structure**: the covariance of the two maps against their variances,
  $\frac{2\sigma_{xy} + c_2}{\sigma_x^2 + \sigma_y^2 + c_2}$ — a correlation, position by position.

Means and variances are the first two moments of a channel, and a Gram matrix's diagonal holds
exactly them: $G_{cc} / HW = \mu_c^2 + \sigma_c^2$. Like a Gram matrix they forget *where* things
are — a close cousin. Only the covariance of the two images ties DISTS to the layout.

Learned weights $\alpha, \beta$ (together summing to 1) mix the two terms:
$\mathrm{DISTS} = 1 - \sum (\alpha \cdot \text{texture} + \beta \cdot \text{structure})$, so 0
means identical. Because texture asks only for the same statistics, DISTS forgives grass or fur
redrawn differently, which MSE and SSIM punish. Its score is in the **Compare** tab.
"""

COMPARE = r"""
**Why do MSE and perception disagree?** MSE $=\frac{1}{N}\sum (a-b)^2$ adds up pixel errors
one by one. A slight brightness shift changes every pixel (large MSE) but looks the same.
Blur removes the structure you notice, with a smaller MSE. A one-pixel shift of a sharp image
has a huge MSE and looks identical.
PSNR $= 10\log_{10}(1/\mathrm{MSE})$ is the same thing in decibels.

**SSIM** compares local means, variances and covariance in a Gaussian window (11×11, σ = 1.5):
$\frac{(2\mu_a\mu_b + C_1)(2\sigma_{ab} + C_2)}{(\mu_a^2+\mu_b^2+C_1)(\sigma_a^2+\sigma_b^2+C_2)}$.

**MS-SSIM** repeats SSIM's contrast-structure term at five scales, halving the image each time,
with the luminance term only at the coarsest, and multiplies them with the exponents
(0.0448, 0.2856, 0.3001, 0.2363, 0.1333): coarse structure counts as well as fine. Its five
scales need a shorter side of at least 161 px.

**Perceptual** distances compare VGG features. **LPIPS** weights unit-normalised features with
weights learned from human judgements. **DISTS** compares each VGG16 channel's spatial mean
(texture) and its correlation with the other image (structure), mixed by learned weights:
0 = identical (see the Gram matrices tab).
"""

SWEEP = """
Each degradation is applied at K growing strengths, and every image is scored in **one batched
VGG pass**. Every metric is divided by its largest value in the sweep, so all curves share a
0–1 scale: look at the *order* in which the degradations hurt each metric.
"""


def status_markdown(arch: str, source: Text, trained: bool, device: str) -> Text:
    """The status line, saying "trained" or "UNTRAINED" in so many words; a loud banner when untrained."""
    state = msg("trained") if trained else msg("UNTRAINED")
    line: Text = msg(
        "**{arch}** · **{state}** weights: {source} · device: **{device}**",
        arch=arch,
        state=state,
        source=source,
        device=device,
    )
    if not can_draw(language()):
        line = Joined((line, NO_FONT), "  \n")
    if trained:
        return line
    banner = msg(
        "⚠️ UNTRAINED WEIGHTS: the feature maps below are random filters, not what an ImageNet-trained "
        "VGG sees. Start the app with <code>--weights {arch}.pth</code> or put torchvision's weights "
        "in the torch hub cache.",
        arch=arch,
    )
    style = "background:#b42318;color:white;padding:10px 14px;border-radius:8px;font-weight:600"
    return Joined((f"<div style='{style}'>", banner, "</div>\n\n", line), sep="")


# Said under the status line when pictures cannot be labelled in the reader's language here.
NO_FONT = msg(
    "*The words inside the pictures are in English: this server has no font for this language "
    "(install fonts-noto-cjk).*"
)


def loading_markdown(arch: str) -> Text:
    """The status line while a backbone loads (after a switch, or on first use)."""
    return msg(
        "**Loading {arch}…** finding its weights (file → torch hub cache → Hugging Face cache → "
        "download) and building the network. The views redraw when it is ready; everyone else's "
        "requests carry on meanwhile.",
        arch=arch,
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


STYLE_TRANSFER = r"""
**Two losses, one picture** (Gatys, Ecker & Bethge 2016). Change the *pixels* of an image $x$,
starting from the content photo $c$, to minimise
$\;\alpha\,\frac{\lVert \phi_l(x) - \phi_l(c)\rVert^2}{\lVert \phi_l(c)\rVert^2}
+ \beta\,\frac{\sum_l w_l E_l(x, s)}{\sum_l w_l E_l(c, s)} + \gamma\,\mathrm{TV}(x)$.
The content term keeps the features of one layer (relu3_3 on VGG16, relu4_2 on VGG19: *what is
where*). The style term matches the Gram matrices of the style photo $s$ at relu1_1 … relu5_1,
with Gatys' textbook $E_l = \frac{1}{4N_l^2M_l^2}\sum_{ij}(G_{ij}(x) - G_{ij}(s))^2$ and
$w_l = 1/5$; it is divided by the content photo's own style distance, so it starts at 1 and β
means the same for every pair of photos. Grams forget *where*: the style's texture spreads over
the whole picture while the content layer holds the layout, and $\mathrm{TV}(x)$ keeps the
result smooth. **Content distance** and **style distance** are the two terms before weighting
(the style distance is $\sum_l w_l E_l$ itself). The style photo is resized to the result's
longest side, which sets the scale of its texture.
"""


def pdn(predict: str, do: str, notice: str) -> str:
    """A lesson's Predict → Do → Notice box (Markdown)."""
    return f"**Predict:** {predict}\n\n**Do:** {do}\n\n**Notice:** {notice}"


PDN_FEATURES = pdn(
    "a photo goes through five blocks of VGG. Which block's maps still look like the photo, and "
    "which look like blobs?",
    "click a sample, then click a point of the picture on the right to follow it through the blocks.",
    "shallow maps are sharp and follow edges and colour; deep maps are coarse, but each of their "
    "pixels sees a large part of the image (the boxes grow from 5 px to 196 px).",
)
PDN_GRAM = pdn(
    "a cat and a brick wall: will their Gram matrices differ most at shallow or at deep layers?",
    "upload two pictures (or two samples), then click a bright cell of G_A.",
    "a Gram cell is the sum of two channels multiplied position by position — where things are is "
    "gone, only which features fire together remains. That is why it measures style.",
)
PDN_COMPARE = pdn(
    "JPEG at quality 10, blur σ 3 and a brightness shift of +0.2: which one will MSE call worst, "
    "and which one would you?",
    "try the three examples below, or move the strength slider.",
    "the difference maps show where each metric sees damage: MSE everywhere a pixel moved, the "
    "feature distances where structure changed.",
)
PDN_SWEEP = pdn(
    "as damage grows, do all metrics rank noise, blur, JPEG and brightness in the same order?",
    "run the sweep on a sample.",
    "brightness climbs fastest in MSE but barely moves LPIPS or the perceptual distance: the "
    "metrics disagree about what damage is.",
)
PDN_EQUAL_MSE = pdn(
    "seven pictures with exactly the same MSE: which would you call least damaged?",
    "make the gallery for a sample.",
    "same MSE, yet LPIPS differs about 100× between a brightness shift and JPEG — the network sees "
    "what you see, the pixel error does not.",
)
PDN_RECONSTRUCT = pdn(
    "rebuilt from nothing but relu2_2's features, will the cat come back? From relu5_3's?",
    "reconstruct from relu2_2, then from relu4_3 (or pick texture synthesis).",
    "shallow layers keep the photo; deep ones keep what is where, not how it looked; Grams keep the "
    "texture and lose the layout.",
)
PDN_STYLE_TRANSFER = pdn(
    "a cat keeps its relu3_3 features while its Gram matrices are pulled towards a brick wall's. "
    "What will be left of the cat: its outline, its eyes, its fur, its colours?",
    "click the first sample pair and press Transfer the style; then run it again with the style "
    "weight β at 3 and at 30.",
    "the eyes, the nose and the outline stay where they were while fur and background turn into "
    "bricks: the content layer keeps what is where, the Grams bring texture without a place. A "
    "larger β trades the one for the other — the content distance rises as the style distance falls.",
)

PDN_TRAIN = pdn(
    "three copies of one small network learn ×4 super-resolution, one with pixel MSE, one with a "
    "VGG feature loss, one with both. Which will score the best PSNR? Which will look sharper?",
    "press Train (about a minute on a CPU) and watch the held-out photo and the zoomed fur.",
    "the MSE network's output is the smoothest, and in this short run a VGG-loss network scored "
    "the best LPIPS in five runs of five; but the MSE network had the best PSNR in only three, "
    "and trained for longer the lesson did not hold on every photo (see below). Same "
    "architecture, same start, same patches: a different loss made a different network.",
)

TRAIN = r"""
**The experiment** (Johnson, Alahi & Fei-Fei 2016; Ledig et al. 2017). Each loss gets its own
copy of the same small residual network (a few 3×3 convolutions; its output is the input plus a
correction), started from **identical** weights, fed the **same** random patches of the training
photos in the same order, with the same optimiser (Adam, cosine-decayed learning rate) and the
same number of steps. The only difference between the networks is the loss.

- **mse** / **l1**: the mean squared (absolute) pixel difference between the output and the truth.
- **perceptual**: the squared difference of VGG's relu2_2 features (the layer Johnson et al. used
  for super-resolution), relative to the truth's features: $\|φ(y) − φ(t)\|^2 / \|φ(t)\|^2$.
- **perceptual+mse**: that plus a small pixel MSE term; **perceptual+style**: plus the Gram-matrix
  (style) difference at relu1_2 and relu2_2.

**Why MSE blurs.** A ×4-downsampled patch of fur fits many sharp originals. The output that
minimises the *expected squared error* over all of them is their average — a blur. PSNR is a
function of MSE, so the MSE network must win on PSNR; it just does not look like fur. A feature
loss asks instead for an output whose VGG features match: edges and texture statistics, even if
each hair is not where it was.

**Fair judging.** All networks are scored on a photo they never saw (the held-out photo), against
its ground truth: MSE, PSNR, SSIM and LPIPS. The first row is the degraded input itself, the
baseline every network starts from. The VGG network used for the loss is frozen: only the small
networks learn.
"""

TRAIN_NO_REFERENCE = r"""
**Trained ahead: none shown.** Networks trained ahead for thousands of steps
(`tools/train_reference.py`, on 16 openly licensed images that are not among the bundled photos)
were to show the lesson at once, on any bundled photo. With ImageNet VGG16 weights they did not
teach it on every one, so none is shown. In 22 runs of ×4 super-resolution the MSE network had
the best PSNR, but a VGG-loss network had the best LPIPS on at most four photos of six: on the
coffee cup and the brick wall the MSE network kept the best LPIPS too, whichever VGG layers the
loss compared and however large the patches, and on the brick wall every network scored worse
than the bicubic input. For denoising, once the MSE network learned (+9 to +12 dB), a VGG-loss
network had the best LPIPS and DISTS on at most four photos of six. Deblurring was not trained: a 1.5-px
blur is nearly invertible, and MSE wins both scores there. Every score is in
`assets/reference/reference.json`, the training in `assets/reference/train.log`.
"""

TRAIN_LIVE = r"""
The live run trains the networks from scratch here, for a few hundred steps of small patches:
too few to rank them reliably. Watch the losses fall and the pictures change. **Measured**
(ImageNet VGG16, the default run: ×4 super-resolution, 250 steps, Chelsea held out, seeds 0–4):
a VGG-loss network had the best LPIPS in all five runs (0.149–0.154; the MSE network
0.164–0.189), but the MSE network had the best PSNR in only three (seeds 0–2; in seeds 3 and 4
perceptual+mse beat it by 0.04 and 0.28 dB), and only once (seed 1, 30.41 dB) did any network
beat the bicubic input's 30.15 dB.
"""

LOOKS_FOR = r"""
**The patches** are the parts of the bundled samples (and of the images you uploaded here)
where this channel fires most: around each of the strongest local maxima of its map, the unit's
*receptive field* — every input pixel that can influence it. Shallow channels fire on colours
and edges, deeper ones on textures and motifs.

**The optimised image** asks the network directly: start from faint noise and change the image
until the channel's mean activation is as high as possible (Olah, Mordvintsev & Schubert 2017).
Raw gradient ascent gives high-frequency noise, so the image is built from a Fourier spectrum
scaled by 1/frequency in a decorrelated colour space, and every step jitters, scales and rotates
it a little: only patterns that survive small moves can win. With untrained weights you see what
a *random* filter likes.
"""
