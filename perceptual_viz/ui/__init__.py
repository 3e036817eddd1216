"""The Gradio app: shared models (``models``), what each view computes (``views``), teaching text
(``text``) and the Blocks layout with its endpoints (``layout``)."""
