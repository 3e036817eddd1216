"""``python -m perceptual_viz``: see :mod:`perceptual_viz.cli`."""

import sys

from .cli import main

sys.exit(main())
