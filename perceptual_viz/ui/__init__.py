"""The Gradio app, on top of the library's figures (``perceptual_viz.figures``).

- :mod:`.app` — ``build_demo``: the header (status, backbone, size, colour map, language) and
  the tabs;
- :mod:`.tabs` — one module per tab (``features`` with ``looks_for``, ``gram``, ``compare``,
  ``sweep``, ``equal_mse``, ``train``, ``quiz``, ``reconstruct``): its layout, its endpoints,
  their wiring (``quiz`` is a package with a module for each of those jobs);
- :mod:`.context` — the one :class:`~.context.AppContext` (models, cache, lanes, limits) that
  every endpoint receives; no module keeps per-user data;
- :mod:`.errors` — the error policy: a user's mistake is one sentence, anything else is
  "Internal error <id>" with the traceback in the log under that id;
- :mod:`.lanes` — interactive work never waits behind long jobs;
- :mod:`.models` — the shared models (loaded in the background) and the ZeroGPU shim;
- :mod:`.serve` — launch settings, PNG encoding and export files;
- :mod:`.showcase` — the bundled samples' slow demos, computed in the background and cached;
- :mod:`.a11y` — AA-contrast theme, names for what Gradio leaves unnamed, keyboard use of
  clickable pictures;
- :mod:`.i18n` (with ``locales/``) — English, Japanese and Simplified Chinese;
- :mod:`.shared`, :mod:`.widgets`, :mod:`.style`, :mod:`.text`, :mod:`.quiz_text` — page-wide
  controls, component flavours, CSS, teaching text;
- :mod:`.pagecheck` — what browser tests and tools check on a page (clipped text, labels over
  pictures, sideways tables, axe-core).
"""
