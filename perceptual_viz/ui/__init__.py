"""The Gradio app, on top of the library's figures (``perceptual_viz.figures``).

- :mod:`.app` — ``build_demo``: the header (status, backbone, size, colour map) and the tabs;
- :mod:`.tabs` — one module per tab (``features``, ``gram``, ``compare``, ``sweep``,
  ``equal_mse``, ``reconstruct``): its layout, its endpoints, their wiring;
- :mod:`.context` — the one :class:`~.context.AppContext` (models, cache, lanes, limits) that
  every endpoint receives; no module keeps per-user data;
- :mod:`.errors` — the error policy: a user's mistake is one sentence, anything else is
  "Internal error <id>" with the traceback in the log under that id;
- :mod:`.lanes` — interactive work never waits behind long jobs;
- :mod:`.models` — the shared models (loaded in the background) and the ZeroGPU shim;
- :mod:`.serve` — launch settings, PNG encoding and export files;
- :mod:`.shared`, :mod:`.widgets`, :mod:`.text` — page-wide controls, component flavours,
  teaching text.
"""
