"""The library's one exception for "what was asked cannot be done".

:class:`InputError` is raised for every problem with what a caller asked for: an unreadable
image, a weights file that does not fit, an unknown layer or degradation, an out-of-range
strength or size. Its message is one sentence that says what to change, and front ends (the
app, the command line) show it as it is. It subclasses ``ValueError``, so code written against
the library keeps working. Anything else raised from inside the library is a bug, and the
front ends treat it as one.
"""

from __future__ import annotations


class InputError(ValueError):
    """A problem with the caller's input; the message says what to change."""
