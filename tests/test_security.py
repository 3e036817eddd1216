"""Nothing outside the bundled samples is served, no client-supplied path is opened, safe defaults hold."""

from __future__ import annotations

import ast
import json
import urllib.error
import urllib.request

import pytest

from perceptual_viz.ui import serve

from .support import CHELSEA, ROOT, SAMPLES


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        str(ROOT / "app.py"),
        str(ROOT / "perceptual_viz" / "backbone.py"),
        "app.py",
        str(SAMPLES / ".." / ".." / "app.py"),
        str(SAMPLES / ".." / "ATTRIBUTION.md"),
        str(SAMPLES / ".." / ".." / "perceptual_viz" / "assets.py"),
        "assets/samples/../../app.py",
        "%2Fetc%2Fpasswd",
    ],
)
def test_file_route_refuses_everything_outside_assets(served, path):
    url = served.url
    status, body = _get(f"{url}gradio_api/file={path}")
    assert status in (403, 404), (status, body[:80])
    assert b"root:" not in body and b"import" not in body


def test_file_route_serves_the_bundled_samples(served):
    status, body = _get(f"{served.url}gradio_api/file={CHELSEA}")
    assert status == 200 and body.startswith(b"\x89PNG"), (
        "the route works, so the refusals above mean something"
    )


def _call(url: str, api: str, data: list) -> str:
    req = urllib.request.Request(
        f"{url}gradio_api/call/{api}",
        data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        event = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event}", timeout=120) as r:
        return r.read().decode("utf-8", "replace")


def test_a_client_cannot_make_the_server_open_its_files(served, tmp_path):
    """A valid PNG outside Gradio's upload folder, named by path in the request, is never read."""
    url = served.url
    secret = CHELSEA  # readable, a valid image, not an upload
    for path in (str(secret), "/etc/passwd", str(tmp_path / "x.png")):
        file_data = {"path": path, "meta": {"_type": "gradio.FileData"}}
        stream = _call(url, "overview", [file_data, "vgg16", "224", "viridis"])
        assert "event: error" in stream and "event: complete" not in stream, stream[:200]
        assert "root:" not in stream
    # and a real upload of the same file works
    from gradio_client import Client, handle_file

    out = Client(url, verbose=False).predict(
        handle_file(str(secret)), "vgg16", "224", "viridis", api_name="/overview"
    )
    assert len(out[0]) == 5


def test_launch_defaults_are_safe(monkeypatch):
    seen = {}

    class FakeDemo:
        def queue(self, **kw):
            seen["queue"] = kw

        def launch(self, **kw):
            seen["launch"] = kw

    serve.launch(FakeDemo())
    kw = seen["launch"]
    assert kw["server_name"] == "127.0.0.1" and kw["share"] is False
    assert kw["max_file_size"] == "20mb"
    assert kw["allowed_paths"] == [str(SAMPLES)]
    assert seen["queue"]["max_size"] > 0


def test_app_binds_to_loopback_unless_told_otherwise(monkeypatch):
    import importlib.util

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    spec = importlib.util.spec_from_file_location("app_under_test", ROOT / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)  # importing app.py builds nothing: main() does
    assert app.parse_args([]).host == "127.0.0.1"
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")  # what a Hugging Face Space sets
    assert app.parse_args([]).host == "0.0.0.0"


def test_every_torch_load_uses_weights_only():
    calls = []
    for path in (ROOT / "perceptual_viz").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in (
                "load",
                "load_state_dict_from_url",
            ):
                owner = getattr(node.func.value, "id", None) or getattr(node.func.value, "attr", None)
                if owner in ("torch", "hub"):
                    kw = {k.arg: k.value for k in node.keywords}
                    ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                    calls.append((path.name, node.lineno, ok))
    assert calls, "the scan found the loaders"
    assert all(ok for *_, ok in calls), [c for c in calls if not c[2]]


def test_old_files_are_removed_from_gradios_cache(served):
    assert served.demo.delete_cache == (1800, 3600)
