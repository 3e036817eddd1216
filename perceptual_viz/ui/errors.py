"""One error policy for every endpoint.

- A user's mistake — :class:`~perceptual_viz.errors.InputError` from the library (a bad file,
  layer, strength, size…) or :class:`UserError` from the app (a backbone still loading, a job
  stopped) — is shown as its one sentence.
- Anything else is a bug: it is logged with its traceback under a short id, and the user sees
  "Internal error <id>", so a report can be matched to the log.
- A CUDA out-of-memory error frees the GPU and runs the request again on the CPU (the request's
  :data:`ON_CPU` flag), with a warning; out of memory on the CPU too is a user-facing sentence.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr
import torch

from ..errors import InputError
from ..messages import Text, msg, said, word
from . import i18n

log = logging.getLogger("perceptual_viz.app")

# Set while a request is retried on the CPU after a CUDA out-of-memory error.
ON_CPU: contextvars.ContextVar[bool] = contextvars.ContextVar("perceptual_viz_on_cpu", default=False)


@contextlib.contextmanager
def on_cpu() -> Iterator[None]:
    """Within the block, this request's models are their CPU copies (see :data:`ON_CPU`)."""
    token = ON_CPU.set(True)
    try:
        yield
    finally:
        ON_CPU.reset(token)


class UserError(Exception):
    """Something the user can act on that is not a problem with their input."""


SHOWN = (InputError, UserError)


def _said(text: Text) -> str:
    """``text`` in the language of the request being served (see :mod:`.i18n`)."""
    return word(text, i18n.request_language())


def shown_error(text: Text) -> gr.Error:
    """``text`` as the error a page shows, in its reader's language (for events that do not go
    through :func:`guarded`)."""
    return gr.Error(_said(text), print_exception=False)


def _sentence(exc: BaseException) -> gr.Error:
    return gr.Error(_said(said(exc)), print_exception=False)


def internal_error(exc: BaseException, where: str) -> gr.Error:
    """Log ``exc`` with its traceback under a new id; the error the user sees names the id."""
    eid = uuid.uuid4().hex[:8]
    log.error("internal error %s in %s", eid, where, exc_info=exc)
    return gr.Error(
        _said(
            msg(
                "Internal error {id}: the request failed (this is a bug, not your input). Please try "
                "again; the server's log has the details under {id}.",
                id=eid,
            )
        ),
        print_exception=False,
    )


def _policy(exc: Exception, where: str, release_gpu: Callable[[], None]) -> None:
    """Raise what the user should see for ``exc``; return only to retry on the CPU."""
    if isinstance(exc, gr.Error):
        raise exc
    if isinstance(exc, SHOWN):
        raise _sentence(exc) from None
    if isinstance(exc, torch.OutOfMemoryError):
        if ON_CPU.get():
            raise gr.Error(
                _said(msg("Out of memory even on the CPU: try a smaller analysis size."))
            ) from None
        log.warning("GPU out of memory in %s; retrying on the CPU", where)
        release_gpu()
        gr.Warning(_said(msg("The GPU ran out of memory: this result was computed on the CPU (slower).")))
        return
    raise internal_error(exc, where) from None


def guarded(fn: Callable[..., Any], release_gpu: Callable[[], None]) -> Callable[..., Any]:
    """``fn`` (plain or generator) under the policy above; the same signature for Gradio."""
    name = getattr(fn, "__name__", "endpoint")

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def streaming(*args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                _policy(exc, name, release_gpu)
                with on_cpu():  # the GPU ran out of memory: again, on the CPU
                    yield from streaming(*args, **kwargs)

        return streaming

    @functools.wraps(fn)
    def plain(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            _policy(exc, name, release_gpu)
            with on_cpu():
                return plain(*args, **kwargs)

    return plain
