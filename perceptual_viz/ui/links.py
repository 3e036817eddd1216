"""Links that open the exact view: the address bar carries what a lesson needs.

A teacher posts ``/?tab=compare&sample=coffee&degradation=blur&strength=3&layer=relu3_3`` and
every student who opens it sees the Compare tab with that photo, blur σ 3 and relu3_3, scored.
:func:`parse` reads such a query (every parameter checked; an unknown name or a bad value is left
out with a note, never an error page) into a :class:`Link`; :func:`query` writes one back from
the page's settings (the "Copy link to this view" button). Parameters:

``tab, sample, arch, size, layer, k, sort, scope, cmap, channel, x, y, degradation, strength,
seed, sample_b, norm, round, lang, present``

``sample`` and ``sample_b`` name a bundled sample (with or without its extension); an uploaded
image cannot travel in a link, so a link of an upload carries ``sample=upload`` and opens with
the image box empty. ``lang`` is read by the page itself (see :mod:`.i18n`), ``present=1`` turns
on the projector mode (see :mod:`.present`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlencode

from ..archs import ARCHS, check_arch
from ..assets import PATTERNS, PHOTOS
from ..degrade import DEGRADATIONS
from ..figures import SIZES
from ..figures.features import K_RANGE
from ..layers import layers
from ..messages import LANGS, Text, msg
from ..options import CHANNEL_SORTS, GRAM_NORMS, SCOPES
from ..quiz.store import CODE_ALPHABET, CODE_LENGTH
from ..render import COLORMAPS

UPLOAD = "upload"
SAMPLES = (*PHOTOS, *PATTERNS)


@dataclass(frozen=True)
class Link:
    """What a link asks for (``None``: not given, or not valid), and why anything was left out."""

    tab: str | None = None
    sample: str | None = None
    arch: str | None = None
    size: str | None = None
    layer: str | None = None
    k: int | None = None
    sort: str | None = None
    scope: str | None = None
    cmap: str | None = None
    channel: int | None = None
    x: int | None = None
    y: int | None = None
    degradation: str | None = None
    strength: float | None = None
    seed: int | None = None
    sample_b: str | None = None
    norm: str | None = None
    round: str | None = None
    lang: str | None = None
    present: bool | None = None
    notes: tuple[Text, ...] = field(default=(), compare=False)

    def given(self) -> dict[str, Any]:
        """The settings the link carries, by parameter name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "notes"}


PARAMS = tuple(f.name for f in fields(Link) if f.name != "notes")


def parse(query: Mapping[str, str], tabs: tuple[str, ...]) -> Link:
    """The link in ``query`` (the page's query parameters); ``tabs``: the ids of the app's tabs."""
    values: dict[str, Any] = {}
    notes: list[Text] = []
    readers = _readers(tabs)
    for name, raw in query.items():
        if name.startswith("__"):  # Gradio's own (``__theme``)
            continue
        read = readers.get(name)
        value = read(str(raw).strip()) if read else None
        if value is None:
            why = msg("unknown setting") if read is None else msg("not a valid value")
            notes.append(msg("{name}={value} was ignored ({why})", name=name, value=str(raw)[:40], why=why))
        else:
            values[name] = value
    link = Link(**values, notes=tuple(notes))
    return _consistent(link)


def _readers(tabs: tuple[str, ...]) -> dict[str, Callable[[str], Any]]:
    """For each parameter, a function from its text to its value (``None`` when not valid)."""
    return {
        "tab": _one_of(tabs),
        "sample": _sample,
        "sample_b": _sample,
        "arch": _one_of(ARCHS),
        "size": _one_of(SIZES),
        "layer": _one_of(tuple(i.name for a in ARCHS for i in layers(a))),
        "k": _int_in(*K_RANGE),
        "sort": _one_of(CHANNEL_SORTS),
        "scope": _one_of(SCOPES),
        "cmap": _one_of(COLORMAPS),
        "channel": _int_in(0, 4095),
        "x": _int_in(0, 100_000),
        "y": _int_in(0, 100_000),
        "degradation": _one_of(tuple(DEGRADATIONS)),
        "strength": _number,
        "seed": _int_in(0, 2**31 - 1),
        "norm": _one_of(GRAM_NORMS),
        "round": _code,
        "lang": _one_of(tuple(LANGS)),
        "present": _one_of(("0", "1")),
    }


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str | None]:
    return lambda s: s if s in choices else None


def _int_in(lo: int, hi: int) -> Callable[[str], int | None]:
    def read(s: str) -> int | None:
        try:
            v = int(s)
        except ValueError:
            return None
        return v if lo <= v <= hi else None

    return read


def _number(s: str) -> float | None:
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _sample(s: str) -> str | None:
    """A bundled sample's file name from its name with or without extension, or ``upload``."""
    if s == UPLOAD:
        return UPLOAD
    return next((n for n in SAMPLES if s in (n, n.rsplit(".", 1)[0])), None)


def _code(s: str) -> str | None:
    c = s.upper()
    return c if len(c) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in c) else None


def _consistent(link: Link) -> Link:
    """Settings that depend on others, checked against them: a layer the backbone has, a
    strength in its degradation's range; what does not fit is left out with a note."""
    notes = list(link.notes)
    values = link.given()
    arch = check_arch(link.arch or "vgg16")
    if link.layer is not None and link.layer not in {i.name for i in layers(arch)}:
        notes.append(msg("layer={layer} was ignored ({arch} has no such layer)", layer=link.layer, arch=arch))
        values["layer"] = None
    if link.strength is not None:
        d = DEGRADATIONS.get(link.degradation or "jpeg")
        if d is not None and not d.minimum <= link.strength <= d.maximum:
            given = f"{link.strength:g}"
            notes.append(msg("strength={value} was ignored (out of range)", value=given))
            values["strength"] = None
    present = values.pop("present")
    return Link(**values, present=None if present is None else present == "1", notes=tuple(notes))


def query(settings: Mapping[str, Any]) -> str:
    """``?name=value&…`` for the settings given (``None`` left out), in :data:`PARAMS` order."""
    items = [(n, _text(n, settings[n])) for n in PARAMS if settings.get(n) is not None]
    return "?" + urlencode(items) if items else ""


def _text(name: str, v: Any) -> str:
    if name in ("sample", "sample_b") and isinstance(v, str):
        return v.rsplit(".", 1)[0]  # "coffee", not "coffee.png"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# --------------------------------------------------------------------------- the page


@dataclass(frozen=True)
class Entry:
    """A component a link sets and the copy button reads: on ``tab`` (``"*"``: every tab), as
    parameter ``param``. ``apply(link)`` gives its value from a link (default: the parameter's,
    a sample's file for an image; ``None``: left as it is); ``read(value)`` the parameters its
    value stands for (default: ``{param: value}``). With ``always``, it is set whatever the tab."""

    tab: str
    param: str
    component: Any
    apply: Callable[[Link], Any] | None = None
    read: Callable[[Any], dict[str, Any]] | None = None
    always: bool = False

    def value(self, link: Link, tab: str) -> Any:
        """What a link sets this component to on ``tab`` (``None``: nothing)."""
        if not (self.always or self.tab in ("*", tab)):
            return None
        if self.apply is not None:
            return self.apply(link)
        v = getattr(link, self.param, None)
        return sample_path(v) if self.param in ("sample", "sample_b") else v

    def settings(self, value: Any) -> dict[str, Any]:
        """The parameters this component's ``value`` stands for in a link."""
        if self.read is not None:
            return self.read(value)
        if self.param in ("sample", "sample_b"):
            return {self.param: sample_of(value)}
        return {self.param: value}


def sample_path(name: str | None) -> str | None:
    """The bundled sample ``name`` as a file a component can show (``upload``: nothing)."""
    from ..assets import sample

    return None if name in (None, UPLOAD) else str(sample(name))


def sample_of(path: Any) -> str:
    """What a link calls the image in a component: its bundled sample's name, else ``upload``."""
    if not path:
        return UPLOAD
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if name in SAMPLES else UPLOAD


def settings_of(entries: list[Entry], tab: str, values: list[Any]) -> dict[str, Any]:
    """The link of what the page shows on ``tab``: every entry of that tab (and of every tab)."""
    out: dict[str, Any] = {"tab": tab}
    for e, v in zip(entries, values, strict=True):
        if e.tab in ("*", tab) and v is not None:
            out.update(e.settings(v))
    return out
