"""Perceptual Loss Lab web app — not built yet.

The Gradio teaching UI is the next piece of work (it sits on the engine in ``perceptual_viz``).
Until it lands this file says so honestly instead of pretending to be the app; the engine is
usable today from the command line and from Python.
"""

import sys

MESSAGE = """\
Perceptual Loss Lab: the web app is not built yet.

The engine works today from the command line:
  python -m perceptual_viz compare assets/samples/astronaut.png --degrade jpeg=10
  python -m perceptual_viz features assets/samples/chelsea.png --layer relu3_3 --top 16 --out grid.png
  python -m perceptual_viz weights
and from Python:  from perceptual_viz import PerceptualLoss, load_vgg
"""

if __name__ == "__main__":
    print(MESSAGE, file=sys.stderr)
    sys.exit(1)
