"""Browser-measured latency: what a student waits for, timed in headless Chromium (Playwright).

    python benchmarks/browser.py                       # untrained VGG16
    python benchmarks/browser.py --weights vgg16.pth   # real weights (what docs/ quotes)
    python benchmarks/browser.py --only view           # only the layer changes (fast)

Two measurements, each from the click to the new picture being *painted* (its ``src`` changed
and the image decoded), so they include the round trip, Gradio's queue and the browser:

- **View change**: on Feature maps after a sample, the layer dropdown cycles through layers
  (the features are cached: no VGG pass). Timed *in the page*, from the pointer-down on the
  option until **every** picture that a layer change changes (found in the page on a warm-up
  change: the channel grid and the enlarged channel; the overview does not change) has its new
  ``src`` loaded and decoded (``img.decode()``). Median and max, and where the time went: the
  API round trip, each picture's transfer and decode (Resource Timing), main-thread long tasks.
- **Showcase demos**: the bundled samples' default Equal-MSE gallery, sweep and reconstruction
  are computed into a fresh showcase cache first (as the app's background warmer does after
  start); then each tab's button is pressed for that sample and timed until its result shows.

Needs ``/usr/bin/chromium`` and the ``playwright`` package; without them it says so in one line.
"""

from __future__ import annotations

import os

os.environ.setdefault("PERCEPTUAL_VIZ_OFFLINE", "1")

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from perceptual_viz.ui.pagecheck import CHROMIUM, CHROMIUM_ARGS, open_tab  # noqa: E402

# Layers chosen in turn on Feature maps, shallow and deep mixed: each different from the default
# (relu3_3) and from each other, so that every timed change (up to len - 1 after the warm-up) is
# a student's first look at that layer: neither the server's result cache nor the browser's
# image cache has it yet (the features themselves are cached: no VGG pass).
LAYERS = (
    "relu1_2", "relu2_2", "relu4_3", "relu5_3", "pool4", "conv3_1", "relu2_1", "conv1_2",
    "relu4_1", "pool2", "conv5_2", "relu3_1", "conv4_2", "pool1", "relu5_1", "conv2_2",
)  # fmt: skip
SAMPLE = "chelsea.png"
SHOWCASE = (  # (kind, tab, button, where the result's text appears, its first picture)
    ("equal_mse", "Equal MSE", "#e_btn", "#e_info", "#e_gallery img"),
    ("sweep", "Sweep", "#s_btn", "#s_info", "#s_charts img"),
    ("reconstruct", "What does a layer keep?", "#r_btn", "#r_info", "#r_out img"),
)
TIMEOUT_MS = 120_000
ROUNDS = 15  # timed layer changes (after one warm-up): every other layer of LAYERS once

_PAINTED = """([sel, old]) => {
  const i = document.querySelector(sel);
  const done = i && i.getAttribute('src') !== old && i.complete && i.naturalWidth > 0;
  if (done) window.__paintedAt = performance.now();
  return done;
}"""
# The moment of the user's click, taken in the page (Playwright's own click first waits for the
# element to be stable, which is not the app's time): a capturing listener stamps it.
_STAMP_CLICKS = """() => {
  window.__clickedAt = null;
  document.addEventListener('pointerdown', () => { window.__clickedAt = performance.now(); }, true);
}"""
_SINCE_CLICK = "() => window.__paintedAt - window.__clickedAt"

# --- the view change, measured in the page -------------------------------------------------
# A picture is named "<id of its nearest element with an id>:<its index among that element's
# images>" ("grid:0", "detail:0", "overview:3"): :data:`_PICTURES` lists the visible ones with
# their ``src``; a warm-up layer change tells which of them a layer change changes.
_PICK = """const pick = (key) => {
    const c = key.lastIndexOf(':');
    const host = document.getElementById(key.slice(0, c));
    return host ? host.querySelectorAll('img')[Number(key.slice(c + 1))] || null : null;
  };"""
_PICTURES = """() => {
  const out = {};
  for (const img of document.images) {
    if (!img.getClientRects().length) continue;
    const host = img.closest('[id]');
    if (!host) continue;
    out[host.id + ':' + [...host.querySelectorAll('img')].indexOf(img)] = img.getAttribute('src');
  }
  return out;
}"""
# Armed after the dropdown is open and before the option is pressed: the next pointer-down is
# the start; then, on every mutation, image load and decode (and every 10 ms), each picture of
# ``keys`` is checked: a new ``src``, ``complete && naturalWidth > 0``, then ``img.decode()``
# resolved for that very ``src``. ``window.__view.promise`` resolves when all of them are, with
# the times (ms since the pointer-down) and the requests of the change (Resource Timing).
_WATCH_VIEW = (
    """([keys, timeoutMs]) => {
  __PICK__
  const abs = (src) => new URL(src, location.href).href;
  const w = {keys, before: {}, src: {}, srcAt: {}, loadedAt: {}, decodedAt: {}, down: null, done: null,
             long: []};
  for (const k of keys) w.before[k] = pick(k)?.getAttribute('src') ?? null;
  performance.clearResourceTimings();
  window.__view = w;
  let finish, poll;
  const check = () => {
    if (w.done !== null || w.down === null) return;
    const now = performance.now();
    let all = true;
    for (const k of keys) {
      const img = pick(k);
      const src = img ? img.getAttribute('src') : null;
      if (!img || !src || src === w.before[k]) { all = false; continue; }
      if (w.src[k] !== src) {  // a (newer) picture: start over for it
        w.src[k] = src; w.srcAt[k] = now; delete w.loadedAt[k]; delete w.decodedAt[k];
      }
      if (!(k in w.loadedAt) && img.complete && img.naturalWidth > 0) {
        w.loadedAt[k] = now;
        img.decode().then(() => {
          if (w.src[k] !== src || img.getAttribute('src') !== src) return;  // replaced meanwhile
          w.decodedAt[k] = performance.now();
          check();
        }, () => {});
      }
      if (!(k in w.decodedAt)) all = false;
    }
    if (all) finish();
  };
  const onDown = () => { if (w.down === null) { w.down = performance.now(); check(); } };
  const onLoad = (e) => { if (e.target && e.target.tagName === 'IMG') check(); };
  const obs = new MutationObserver(check);
  let longs = null;
  try {
    longs = new PerformanceObserver((l) => {
      for (const e of l.getEntries()) w.long.push([e.startTime, e.duration]);
    });
    longs.observe({type: 'longtask'});
  } catch (e) { longs = null; }
  w.promise = new Promise((resolve, reject) => {
    const timer = setTimeout(() => { stop(); reject(new Error('view change: not every picture repainted: '
      + JSON.stringify({before: w.before, src: w.src, decoded: Object.keys(w.decodedAt)}))); }, timeoutMs);
    const stop = () => {
      clearTimeout(timer); clearInterval(poll); obs.disconnect(); if (longs) longs.disconnect();
      document.removeEventListener('pointerdown', onDown, true);
      document.removeEventListener('load', onLoad, true);
    };
    const rel = (t) => (t ? t - w.down : null);
    const timing = (e) => e && ({path: new URL(e.name).pathname, start: rel(e.startTime),
      ttfb: rel(e.responseStart), end: rel(e.responseEnd), bytes: e.encodedBodySize,
      cached: e.transferSize === 0 && e.encodedBodySize > 0});
    const since = () => performance.getEntriesByType('resource').filter((e) => e.startTime >= w.down - 1);
    const shown = () => new Set(keys.map((k) => abs(w.src[k])));
    // Every other request since the pointer-down (call again once the page has settled: the
    // chained events' requests may come after the pictures).
    w.requests = () => since().filter((e) => !shown().has(e.name)).map(timing);
    finish = () => {
      w.done = Math.max(...keys.map((k) => w.decodedAt[k]));
      stop();
      const res = since(), pictures = {};
      for (const k of keys) {
        pictures[k] = {src: w.src[k], src_set: rel(w.srcAt[k]), loaded: rel(w.loadedAt[k]),
                       decoded: rel(w.decodedAt[k]),
                       fetch: timing(res.find((e) => e.name === abs(w.src[k])))};
      }
      resolve({ms: w.done - w.down, pictures, requests: w.requests(),
               long_ms: w.long.filter(([s]) => s >= w.down && s <= w.done).reduce((a, [, d]) => a + d, 0)});
    };
    document.addEventListener('pointerdown', onDown, true);
    document.addEventListener('load', onLoad, true);
    obs.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
    // A cheap poll besides (a picture from the memory cache may be complete with no event of
    // its own): a timer, not an animation-frame loop, which would make the page draw frames.
    poll = setInterval(check, 10);
  });
}"""
).replace("__PICK__", _PICK)
# Until no picture's ``src`` has changed for ``quietMs`` and every visible one has loaded (the
# rest of a change's updates, e.g. the chained events, have landed).
_SETTLED = """([quietMs, timeoutMs]) => new Promise((resolve, reject) => {
  let last = performance.now();
  const obs = new MutationObserver(() => { last = performance.now(); });
  obs.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  const t_end = last + timeoutMs;
  const loop = () => {
    const now = performance.now();
    const loaded = [...document.images].every((i) => !i.getClientRects().length || i.complete);
    const busy = document.querySelector('.wrap.pending, .progress-bar, .eta-bar');
    if (loaded && !busy && now - last >= quietMs) { obs.disconnect(); resolve(now - last); }
    else if (now > t_end) { obs.disconnect(); reject(new Error('the page never settled')); }
    else requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
})"""
QUIET_MS = 400  # a change's chained updates land well within this of each other


def unavailable() -> str | None:
    """Why the browser rows cannot run here, or None."""
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} not found (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def _click_sample(page: Any, name: str) -> None:
    item = page.locator("button.gallery-item:visible").filter(has=page.locator(f'img[src$="/{name}"]'))
    item.first.click()


def _settle(page: Any) -> None:
    page.evaluate(_SETTLED, [QUIET_MS, TIMEOUT_MS])


def _changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def open_features(page: Any, sample: str = SAMPLE) -> str:
    """``sample`` on Feature maps, its first views shown and settled; the layer shown."""
    _click_sample(page, sample)
    page.locator("#grid img").wait_for(timeout=TIMEOUT_MS)
    page.locator("#detail img").wait_for(timeout=TIMEOUT_MS)
    page.locator("#grid_caption").get_by_text("relu3_3").wait_for(timeout=TIMEOUT_MS)
    _settle(page)
    return "relu3_3"


def change_layer(page: Any, layer: str, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """Choose ``layer`` in the Feature maps dropdown, as a student does.

    With ``keys`` (pictures, see :data:`_PICTURES`) the change is timed in the page until each
    of them is repainted (:data:`_WATCH_VIEW`). Either way it then waits until the page has
    settled and returns ``changed``: every visible picture whose ``src`` the change changed.
    """
    combo = page.locator("#f_layer input[role=combobox]")
    before = page.evaluate(_PICTURES)
    combo.click()
    option = page.get_by_role("option", name=layer, exact=True)
    option.wait_for(timeout=TIMEOUT_MS)
    if keys:
        page.evaluate(_WATCH_VIEW, [list(keys), TIMEOUT_MS])
    option.click()
    out: dict[str, Any] = page.evaluate("() => window.__view.promise") if keys else {}
    page.locator("#grid_caption").get_by_text(layer, exact=False).wait_for(timeout=TIMEOUT_MS)
    _settle(page)
    out["layer"] = layer
    out["changed"] = _changed(before, page.evaluate(_PICTURES))
    if keys:  # the picture shown at the end is the one timed (no later repaint was missed)
        now = page.evaluate(_PICTURES)
        out["repainted_after"] = sorted(k for k in keys if now.get(k) != out["pictures"][k]["src"])
        out["requests"] = page.evaluate("() => window.__view.requests()")  # later ones too
    return out


def layer_sequence(first: str, rounds: int) -> list[str]:
    """``rounds`` layers from :data:`LAYERS`, cycling, each different from the one before it."""
    seq, prev, i = [], first, 0
    while len(seq) < rounds:
        layer = LAYERS[i % len(LAYERS)]
        i += 1
        if layer != prev:
            seq.append(layer)
            prev = layer
    return seq


def view_changes(page: Any, rounds: int, sample: str = SAMPLE) -> dict[str, Any]:
    """On Feature maps after ``sample`` (in a page that has not shown one yet): one warm-up
    layer change finds the pictures a layer change changes (``pictures``), then ``rounds``
    changes are timed (``changes``, each from :func:`change_layer`, with ``ms`` from the
    pointer-down to the last of them decoded, and ``revisit``: a layer shown before)."""
    shown = open_features(page, sample)
    first, *timed = layer_sequence(shown, rounds + 1)
    warmup = change_layer(page, first)
    keys = warmup["changed"]
    if not keys:
        raise RuntimeError(f"a layer change ({shown} → {first}) changed no picture")
    seen, changes = {shown, first}, []
    for layer in timed:  # a layer seen before may come from the result and image caches
        changes.append({**change_layer(page, layer, keys), "revisit": layer in seen})
        seen.add(layer)
    return {"pictures": keys, "changes": changes}


def _median(xs: Sequence[float | None]) -> float | None:
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 1) if xs else None


def breakdown(changes: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians (ms since the pointer-down) of each step of the timed changes."""
    reqs = [r for c in changes for r in c["requests"]]
    paths = sorted({r["path"] for r in reqs})
    out: dict[str, Any] = {
        "requests_per_change": _median(
            [len(c["requests"]) + sum(bool(p["fetch"]) for p in c["pictures"].values()) for c in changes]
        ),
        "api": {
            p: {
                "count": sum(r["path"] == p for r in reqs) / len(changes),
                **{f: _median([r[f] for r in reqs if r["path"] == p]) for f in ("start", "ttfb", "end")},
                "bytes": _median([r["bytes"] for r in reqs if r["path"] == p]),
            }
            for p in paths
        },
        "long_ms": _median([c["long_ms"] for c in changes]),
        "pictures": {},
    }
    for k in changes[0]["pictures"]:
        pics = [c["pictures"][k] for c in changes]
        fetches = [p["fetch"] for p in pics if p["fetch"]]
        out["pictures"][k] = {
            "src_set": _median([p["src_set"] for p in pics]),
            "fetch_start": _median([f["start"] for f in fetches]),
            "fetch_end": _median([f["end"] for f in fetches]),
            "kb": _median([f["bytes"] / 1000 for f in fetches]),
            "cached": sum(not p["fetch"] or p["fetch"]["cached"] for p in pics),  # no request made
            "loaded": _median([p["loaded"] for p in pics]),
            "decoded": _median([p["decoded"] for p in pics]),
        }
    return out


def warm(demo: Any, kinds: Sequence[str]) -> float:
    """Compute the showcase entries of :data:`SAMPLE` for ``kinds``, as the warmer would; seconds."""
    ctx = demo.ctx
    model = ctx.pool.get(ctx.pool.arch)
    t0 = time.perf_counter()
    for r in ctx.showcase.recipes:
        if r.kind not in kinds or r.settings.get("mode", "content") != "content":
            continue
        path = next(s for s in r.samples if s.endswith(SAMPLE))
        fig = r.compute(model, path, lambda: False)
        ctx.showcase.put(r.kind, model, r.image_key(model, path), r.settings, fig)
    return time.perf_counter() - t0


def showcase_paints(page: Any) -> dict[str, float]:
    """Seconds from pressing each tab's button to its cached result shown."""
    out = {}
    for kind, tab, button, info, picture in SHOWCASE:
        open_tab(page, tab)
        _click_sample(page, SAMPLE)
        page.wait_for_timeout(400)
        page.locator(button).click()
        page.locator(info).get_by_text("showcase cache").wait_for(timeout=TIMEOUT_MS)
        page.locator(picture).first.scroll_into_view_if_needed()
        page.wait_for_function(_PAINTED, arg=[picture, ""], timeout=TIMEOUT_MS, polling="raf")
        out[kind] = page.evaluate(_SINCE_CLICK) / 1000
    return out


def run(
    weights: str = "untrained", rounds: int = ROUNDS, showcase: bool = True, view: bool = True
) -> dict[str, Any]:
    """The measurements (both by default) on a freshly launched app; a dict for the report."""
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import load

    with tempfile.TemporaryDirectory() as tmp:
        before = os.environ.get("PERCEPTUAL_VIZ_CACHE_DIR")
        os.environ["PERCEPTUAL_VIZ_CACHE_DIR"] = tmp  # a fresh showcase cache for this run
        try:
            pool, demo, url = load.launch_app(weights=weights)
        finally:
            if before is None:
                os.environ.pop("PERCEPTUAL_VIZ_CACHE_DIR", None)
            else:
                os.environ["PERCEPTUAL_VIZ_CACHE_DIR"] = before
        result: dict[str, Any] = {"weights": pool.get(pool.arch).status.source}
        if hasattr(os, "getloadavg"):  # other work on the machine shows up in every time below
            result["load_avg"] = os.getloadavg()[0]
        try:
            if showcase:
                result["warm_s"] = warm(demo, [k for k, *_ in SHOWCASE])
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
                page.goto(url, wait_until="load")
                page.evaluate(_STAMP_CLICKS)
                if view:
                    v = view_changes(page, rounds)
                    times = [c["ms"] / 1000 for c in v["changes"]]
                    result["view_s"] = times
                    result["view_median_s"] = statistics.median(times)
                    result["view_max_s"] = max(times)
                    result["view_pictures"] = v["pictures"]
                    result["view_breakdown"] = breakdown(v["changes"])
                    result["view_changes"] = v["changes"]
                if showcase:
                    result["showcase_s"] = showcase_paints(page)
                browser.close()
        finally:
            load.close_app(demo)
    return result


def report(r: dict[str, Any]) -> str:
    load = f", load average {r['load_avg']:.1f} at start" if "load_avg" in r else ""
    lines = [f"Browser (Chromium, 1440 px, {r['weights']} weights{load}), click → new picture painted:"]
    if "view_s" in r:
        b = r["view_breakdown"]
        lines.append(
            f"  layer change on Feature maps: median {r['view_median_s'] * 1000:.0f} ms, "
            f"max {r['view_max_s'] * 1000:.0f} ms over {len(r['view_s'])} changes, until every "
            f"changed picture is decoded ({', '.join(r['view_pictures'])})"
        )
        revisits = sum(c["revisit"] for c in r["view_changes"])
        if revisits:
            lines.append(
                f"    ({revisits} of them to a layer shown before: --rounds ≤ {len(LAYERS) - 1} avoids)"
            )
        lines.append(
            "    each: " + " ".join(f"{s * 1000:.0f}" for s in r["view_s"]) + " ms; "
            f"{b['requests_per_change']:.0f} HTTP requests per change; "
            f"main-thread long tasks {b['long_ms']:.0f} ms (medians, ms after the pointer-down:)"
        )
        for path, a in b["api"].items():
            lines.append(
                f"    {path} ×{a['count']:g}: sent {a['start']:.0f}, first byte {a['ttfb']:.0f}, "
                f"done {a['end']:.0f} ({a['bytes'] / 1000:.1f} kB)"
            )
        for k, p in b["pictures"].items():
            fetched = "" if p["fetch_start"] is None else f"{p['fetch_start']:.0f}→{p['fetch_end']:.0f} "
            lines.append(
                f"    {k}: src set {p['src_set']:.0f}, fetched {fetched}({p['kb'] or 0:.0f} kB, "
                f"{p['cached']} of {len(r['view_s'])} from the browser cache), loaded {p['loaded']:.0f}, "
                f"decoded {p['decoded']:.0f}"
            )
    for kind, s in r.get("showcase_s", {}).items():
        lines.append(f"  showcase {kind} (warmed): {s:.2f} s")
    if "warm_s" in r:
        lines.append(f"  (warming those three took {r['warm_s']:.1f} s)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--weights", default="untrained", help="untrained | auto | PATH")
    p.add_argument("--rounds", type=int, default=ROUNDS, help="timed layer changes (after a warm-up)")
    p.add_argument("--no-showcase", action="store_true", help="the same as --only view")
    p.add_argument("--only", choices=("view", "showcase"), help="run only this measurement")
    p.add_argument("--json", metavar="FILE", help="also write every number measured to FILE")
    args = p.parse_args(argv)
    why = unavailable()
    if why:
        print(f"browser rows skipped: {why}")
        return 0
    showcase = not args.no_showcase and args.only != "view"
    r = run(args.weights, args.rounds, showcase=showcase, view=args.only != "showcase")
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1), encoding="utf-8")
    print(report(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
