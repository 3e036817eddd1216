"""The app's tabs, one module each: its layout, its endpoints and their wiring (``build``). The
largest, ``quiz``, is a package that gives each of those jobs a module of its own.

Every endpoint is a module-level function whose first argument is the
:class:`~perceptual_viz.ui.context.AppContext`; ``build(ctx, shared)`` lays the tab out inside
the app's ``gr.Tabs`` and wires its events (see :mod:`perceptual_viz.ui.app`).
"""
