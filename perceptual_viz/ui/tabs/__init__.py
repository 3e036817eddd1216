"""The app's tabs, one module each: its layout, its endpoints and their wiring (``build``).

Every endpoint is a module-level function whose first argument is the
:class:`~perceptual_viz.ui.context.AppContext`; ``build(ctx, shared)`` lays the tab out inside
the app's ``gr.Tabs`` and wires its events (see :mod:`perceptual_viz.ui.app`).
"""
