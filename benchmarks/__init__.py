"""Benchmarks of perceptual_viz: ``run.py`` (the entry point), its ``harness`` and ``sections``,
and the scripts it also runs on their own (``load.py``, ``classload.py``, ``browser.py``)."""
