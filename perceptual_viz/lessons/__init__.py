"""The lessons: longer computations that each teach one thing about perceptual loss.

- :mod:`.equal_mse`: the same MSE made many ways (the strength of each degradation that gives a
  target MSE), scored and ranked by the network.
- :mod:`.reconstruct`: what a layer keeps — an image optimised from noise to match one layer's
  features (feature inversion) or only its Gram matrices (texture synthesis).
- :mod:`.style_transfer`: both losses in one picture (Gatys et al.) — a photo's content kept
  at one layer while its Gram matrices take another photo's style.
- :mod:`.train`: what the loss was invented for — one small network per loss (MSE, perceptual,
  perceptual + MSE…) trained side by side from the same start on the same patches, and scored
  on a held-out image.
"""
