"""`netc serve`: the JSON API over real HTTP on localhost, its file safety, its limits, the
command line, and the node map the renderer gives the page (`to_dot_plan`).

Each test module starts one server on 127.0.0.1, port 0, in a thread of this process; its
served folder is a temporary copy of a few specs, its zoo the repository's `specs/`. The
browser test is tests/test_serve_browser.py.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import require_dot

import netc
from netc.lang.limits import DEFAULT_LIMITS
from netc.render import RenderOptions, to_dot
from netc.render.dot import to_dot_plan
from netc.serve import Engine, Server, Workspace, is_loopback, make_server

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
TINY = """name: "tiny"
input: "data"  input_shape { dim: 1 dim: 3 dim: 32 dim: 32 }
layer { name: "conv1" type: "Convolution" num_output: 8 kernel_size: 3 pad: 1 }
layer { name: "relu1" type: "ReLU" }
layer { name: "fc" type: "InnerProduct" num_output: 10 }
"""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Live:
    server: Server
    folder: Path
    port: int

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        timeout: float = 30,
    ) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = raw
            sent = dict(headers or {})
            if body is not None:
                data = json.dumps(body).encode("utf-8")
                sent.setdefault("Content-Type", "application/json")
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            return Reply(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            connection.close()

    def post(self, path: str, body: object, **kwargs: Any) -> Reply:
        return self.request("POST", path, body, **kwargs)


def start(workspace: Workspace, engine: Engine | None = None) -> tuple[Server, threading.Thread]:
    server = make_server(workspace, port=0, engine=engine, log=lambda message: None)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return server, thread


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("served")
    for name in ("lenet.net", "resnet18.net"):
        shutil.copy(SPECS / name, folder / name)
    (folder / "tiny.net").write_text(TINY)
    (folder / "notes.txt").write_text("not a spec")
    (folder / "sub").mkdir()
    (folder / "sub" / "blocks.net").write_text(
        'define cr(n: int) {\n  layer { name: "conv" type: "Convolution" num_output: n'
        ' kernel_size: 3 pad: 1 }\n  layer { name: "relu" type: "ReLU" }\n}\n'
    )
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "secret.net").write_text(TINY)
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret.net").write_text('name: "secret"\n')
    (folder / "escape.net").symlink_to(outside / "secret.net")
    (folder / "escape_dir").symlink_to(outside, target_is_directory=True)
    (folder / "inside_link.net").symlink_to(folder / "tiny.net")
    server, thread = start(Workspace(folder, SPECS))
    try:
        yield Live(server, folder, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# ---- the page ------------------------------------------------------------------------------


def test_page_and_assets_come_from_netc_itself(live: Live) -> None:
    page = live.request("GET", "/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    html = page.body.decode()
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(r.startswith("/static/") for r in refs), refs  # nothing external
    for ref in refs:
        asset = live.request("GET", ref)
        assert asset.status == 200 and asset.body, ref
        body = asset.body.replace(b"http://www.w3.org/2000/svg", b"")  # a namespace name
        assert b"http://" not in body and b"https://" not in body, ref
    missing = live.request("GET", "/static/nope.js")
    assert missing.status == 404 and missing.json()["ok"] is False
    assert live.request("GET", "/static/../server.py").status == 404
    assert live.request("HEAD", "/").status == 200


def test_static_files_are_package_data_in_the_wheel() -> None:
    """hatch puts every file under netc/ in the wheel; the page's files are there."""
    static = ROOT / "netc" / "serve" / "static"
    names = {p.name for p in static.iterdir()}
    assert {"index.html", "app.js", "editor.js", "app.css", "favicon.svg"} <= names
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'packages = ["netc"]' in pyproject


def test_info(live: Live) -> None:
    info = live.request("GET", "/api/info").json()
    assert info["netc"] == netc.__version__
    assert info["roots"] == {"folder": {"writable": True}, "zoo": {"writable": False}}
    assert isinstance(info["graphviz"], bool) and isinstance(info["onnx"], bool)


# ---- files ---------------------------------------------------------------------------------


def test_listing_shows_specs_of_the_folder_and_the_zoo_only(live: Live) -> None:
    files = live.request("GET", "/api/files").json()["files"]
    folder = {f["path"] for f in files if f["root"] == "folder"}
    zoo = {f["path"] for f in files if f["root"] == "zoo"}
    assert folder == {"inside_link.net", "lenet.net", "resnet18.net", "sub/blocks.net", "tiny.net"}
    expected = {
        p.relative_to(SPECS).as_posix()
        for p in SPECS.rglob("*")
        if p.suffix in (".net", ".prototxt", ".pbtxt")
        and not any(part.startswith(".") for part in p.relative_to(SPECS).parts)
    }
    assert "resnet152.net" in zoo and zoo == expected


def test_read_a_file_with_its_etag(live: Live) -> None:
    reply = live.request("GET", "/api/file?path=tiny.net")
    assert reply.status == 200
    data = reply.json()
    assert data["text"] == TINY and data["writable"] is True
    assert reply.headers["etag"] == f'"{data["etag"]}"'
    zoo = live.request("GET", "/api/file?root=zoo&path=resnet152.net").json()
    assert zoo["writable"] is False and "bottleneck" in zoo["text"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("../outside/secret.net", 403),
        ("..%2Foutside%2Fsecret.net", 403),
        ("sub/../../secret.net", 403),
        ("/etc/passwd", 403),
        ("%2Fetc%2Fhostname", 403),
        ("C:%5Cwindows%5Cwin.ini", 403),
        ("escape.net", 403),  # a symlink that leaves the folder
        ("escape_dir/secret.net", 403),
        (".hidden/secret.net", 403),
        ("notes.txt", 403),  # not a spec
        ("missing.net", 404),
        ("sub", 404),
        ("a%00b.net", 400),
        ("", 400),
    ],
)
def test_no_file_outside_the_folder_is_served(live: Live, path: str, status: int) -> None:
    reply = live.request("GET", f"/api/file?path={path}")
    assert reply.status == status, reply.body
    assert reply.json()["ok"] is False and reply.json()["diagnostics"][0]["message"]


def test_a_symlink_inside_the_folder_is_served(live: Live) -> None:
    assert live.request("GET", "/api/file?path=inside_link.net").json()["text"] == TINY


def test_unknown_root_is_404(live: Live) -> None:
    assert live.request("GET", "/api/file?root=etc&path=passwd.net").status == 404


# ---- saving --------------------------------------------------------------------------------


def test_save_is_explicit_atomic_and_checks_the_etag(live: Live) -> None:
    path = live.folder / "save_me.net"
    path.write_text(TINY)
    etag = live.request("GET", "/api/file?path=save_me.net").json()["etag"]
    edited = TINY.replace("num_output: 10", "num_output: 20")
    saved = live.request("PUT", "/api/file?path=save_me.net", {"text": edited, "etag": etag})
    assert saved.status == 200, saved.body
    assert path.read_text() == edited
    new_etag = saved.json()["etag"]
    assert new_etag != etag
    assert not [p for p in live.folder.iterdir() if p.name.startswith(".save_me")]  # no temp left

    # the old ETag is stale now: refused, nothing written
    again = live.request("PUT", "/api/file?path=save_me.net", {"text": "lost", "etag": etag})
    assert again.status == 409 and "changed on disk" in again.json()["error"]
    assert path.read_text() == edited

    # changed by another program since it was loaded: refused
    path.write_text(TINY + "# edited elsewhere\n")
    clash = live.request("PUT", "/api/file?path=save_me.net", {"text": "mine", "etag": new_etag})
    assert clash.status == 409
    assert path.read_text().endswith("# edited elsewhere\n")

    # If-Match works as well as the body's etag
    current = live.request("GET", "/api/file?path=save_me.net").json()["etag"]
    ok = live.request(
        "PUT", "/api/file?path=save_me.net", {"text": TINY}, headers={"If-Match": f'"{current}"'}
    )
    assert ok.status == 200 and path.read_text() == TINY


def test_save_creates_new_files_but_never_overwrites_without_an_etag(live: Live) -> None:
    created = live.request("PUT", "/api/file?path=sub/new.net", {"text": TINY, "etag": None})
    assert created.status == 200 and (live.folder / "sub" / "new.net").read_text() == TINY
    clash = live.request("PUT", "/api/file?path=tiny.net", {"text": "x"})
    assert clash.status == 409 and (live.folder / "tiny.net").read_text() == TINY
    deleted = live.request("PUT", "/api/file?path=gone.net", {"text": "x", "etag": "0" * 32})
    assert deleted.status == 409 and not (live.folder / "gone.net").exists()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("../escaped.net", 403),
        ("escape.net", 403),
        ("escape_dir/x.net", 403),
        ("notes.txt", 403),
        ("evil.py", 403),
        ("nofolder/x.net", 404),
        (".hidden/x.net", 403),
    ],
)
def test_save_refuses_paths_outside_or_not_specs(live: Live, path: str, status: int) -> None:
    reply = live.request("PUT", f"/api/file?path={path}", {"text": TINY, "etag": None})
    assert reply.status == status, reply.body
    assert not (live.folder.parent / "escaped.net").exists()
    assert (live.folder / "notes.txt").read_text() == "not a spec"


def test_the_zoo_is_read_only(live: Live) -> None:
    before = (SPECS / "lenet.net").read_text()
    etag = live.request("GET", "/api/file?root=zoo&path=lenet.net").json()["etag"]
    reply = live.request("PUT", "/api/file?root=zoo&path=lenet.net", {"text": "x", "etag": etag})
    assert reply.status == 403 and "read-only" in reply.json()["error"]
    assert (SPECS / "lenet.net").read_text() == before


def test_read_only_server_never_writes(tmp_path: Path) -> None:
    (tmp_path / "a.net").write_text(TINY)
    server, thread = start(Workspace(tmp_path, None, read_only=True))
    try:
        live = Live(server, tmp_path, server.server_address[1])
        etag = live.request("GET", "/api/file?path=a.net").json()["etag"]
        reply = live.request("PUT", "/api/file?path=a.net", {"text": "x", "etag": etag})
        assert reply.status == 403 and (tmp_path / "a.net").read_text() == TINY
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# ---- analyze, render, build ------------------------------------------------------------------


def test_analyze_returns_netc_analysis_json_and_a_layer_index(live: Live) -> None:
    reply = live.post("/api/analyze", {"text": TINY, "path": "tiny.net"})
    assert reply.status == 200, reply.body
    data = reply.json()
    doc = data["analysis"]
    assert doc["schema"] == "netc.analysis/2" and doc["network"] == "tiny"
    assert [r["name"] for r in doc["layers"]] == ["data", "conv1", "relu1", "fc"]
    assert doc["totals"]["params"] == 8 * 3 * 9 + 8 + 8 * 32 * 32 * 10 + 10
    index = {layer["name"]: layer for layer in data["layers"]}
    assert index["conv1"]["row"] == 1 and index["conv1"]["lines"] == [[3, 3]]
    assert index["fc"]["lines"] == [[5, 5]]


def test_analyze_reports_warnings_and_what_it_leaves_out(live: Live) -> None:
    """A layer of a type netc does not know: the analysis answers (200), with the warning and
    the layers its totals leave out."""
    text = TINY.replace('type: "ReLU"', 'type: "Mystery"')
    assert text != TINY
    reply = live.post("/api/analyze", {"text": text, "path": "tiny.net"})
    assert reply.status == 200, reply.body
    data = reply.json()
    (warning,) = data["warnings"]
    assert warning["severity"] == "warning" and warning["line"] >= 1
    assert 'unknown layer type "Mystery"' in warning["message"]
    assert data["analysis"]["incomplete"]["undeclared"] == ["relu1"]


def test_analyze_takes_batch_input_size_and_depth(live: Live) -> None:
    text = (SPECS / "resnet18.net").read_text()
    base = live.post("/api/analyze", {"text": text, "depth": "full"}).json()
    assert base["depth"] is None and len(base["analysis"]["layers"]) == len(base["layers"])
    bigger = live.post(
        "/api/analyze", {"text": text, "batch": 8, "input_size": "320x320", "depth": 1}
    ).json()
    assert bigger["analysis"]["batch"] == 8
    assert bigger["analysis"]["inputs"]["data"] == [8, 3, 320, 320]
    rows = [r["name"] for r in bigger["analysis"]["layers"]]
    assert "layer1" in rows and len(rows) < len(base["analysis"]["layers"])
    row_of = {layer["name"]: layer["row"] for layer in bigger["layers"]}
    assert rows[row_of["layer1.0.conv1"]] == "layer1"
    # the same text as a file of the folder: lines point into it, into the template too
    lines = live.post("/api/analyze", {"text": text, "path": "resnet18.net"}).json()["layers"]
    conv = next(layer for layer in lines if layer["name"] == "layer1.0.conv1")
    assert len(conv["lines"]) >= 2  # the template's layer, and the instance statement(s)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("batch", 0),
        ("batch", "many"),
        ("batch", True),
        ("input_size", "12xq"),
        ("input_size", [1, 2, 3]),
        ("depth", 0),
        ("depth", "deep"),
        ("phase", "EVAL"),
        ("dtype", "fp8"),
        ("text", 42),
    ],
)
def test_bad_options_are_400_with_a_message(live: Live, field: str, value: object) -> None:
    reply = live.post("/api/analyze", {"text": TINY, field: value})
    assert reply.status == 400, reply.body
    assert field in reply.json()["error"]


def test_a_bad_spec_is_422_with_compiler_diagnostics(live: Live) -> None:
    text = TINY.replace('"InnerProduct"', '"InnerProdcut"')
    for endpoint in ("/api/analyze", "/api/render", "/api/build?target=torch"):
        reply = live.post(endpoint, {"text": text, "path": "tiny.net"})
        assert reply.status == 422, (endpoint, reply.body)
        data = reply.json()
        assert data["ok"] is False and data["error"] == "tiny.net: 1 error"
        (d,) = data["diagnostics"]
        assert d["file"] == "tiny.net" and d["line"] == 5 and d["column"] == 26
        assert "unknown layer type" in d["message"] and "InnerProduct" in d["hint"]


def test_imports_resolve_below_the_specs_folder_only(live: Live) -> None:
    text = 'import "sub/blocks.net"\ninput: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\ncr "a" { n: 4 }\n'
    ok = live.post("/api/analyze", {"text": text, "path": "uses.net"})
    assert ok.status == 200, ok.body
    for target in ("../outside/secret.net", "/etc/hostname", "escape.net"):
        bad = live.post("/api/analyze", {"text": f'import "{target}"\n' + TINY, "path": "uses.net"})
        assert bad.status == 422, (target, bad.body)
    # without a path, imports resolve below the served folder, not the server's cwd
    cwd_only = live.post("/api/analyze", {"text": 'import "pyproject.toml"\n' + TINY})
    assert cwd_only.status == 422
    assert "cannot find" in cwd_only.json()["diagnostics"][0]["message"]


def test_imports_may_go_up_within_the_root_only(live: Live) -> None:
    # a recipe of the zoo extends its base one folder up: inside the zoo root, so allowed
    recipe = (SPECS / "transfer" / "lenet_digits.net").read_text()
    ok = live.post(
        "/api/analyze", {"text": recipe, "path": "transfer/lenet_digits.net", "root": "zoo"}
    )
    assert ok.status == 200, ok.body
    assert ok.json()["analysis"]["totals"]["frozen"] == 426_070  # conv1 .. ip1 of LeNet
    derived = 'extends "../lenet.net"\n'
    assert live.post("/api/analyze", {"text": derived, "path": "sub/r.net"}).status == 200
    above = live.post("/api/analyze", {"text": 'extends "../../lenet.net"\n', "path": "sub/r.net"})
    assert above.status == 422, above.body
    assert "leaves" in above.json()["diagnostics"][0]["message"]


def test_render_gives_svg_and_the_node_map(live: Live) -> None:
    require_dot()
    text = (SPECS / "resnet18.net").read_text()
    data = live.post("/api/render", {"text": text, "depth": "full"}).json()
    assert data["ok"] and data["graphviz"] is None and data["depth"] is None
    svg = data["svg"]
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    titles = set(re.findall(r"<title>([^<]*)</title>", svg))
    assert set(data["units"]) <= titles  # every unit is a node of the drawing, by its title
    layers = [n for names in data["units"].values() for n in names]
    graph = netc.load(text)
    assert sorted(layers) == sorted(n.name for n in graph.nodes)  # each layer exactly once
    # clusters (template instances drawn as boxes): their ids are the SVG's cluster titles
    labels = dict(
        re.findall(
            r'subgraph (cluster_\d+) \{\n\s*graph \[label="([^"·]*) ·',
            to_dot(graph, RenderOptions(depth="full")),
        )
    )
    assert set(data["clusters"]) == set(labels) and set(labels) <= titles
    for key, names in data["clusters"].items():
        assert names and all(n.startswith(labels[key] + ".") for n in names), key
    collapsed = live.post("/api/render", {"text": text, "depth": 1}).json()
    assert collapsed["depth"] == 1 and len(collapsed["units"]) < len(data["units"])
    assert collapsed["max_depth"] == data["max_depth"] >= 1


def test_render_without_graphviz_still_answers(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETC_GRAPHVIZ", "dot")
    monkeypatch.setenv("PATH", "/nonexistent")
    data = live.post("/api/render", {"text": TINY + "# no dot\n"}).json()
    assert data["ok"] is True and data["svg"] is None
    assert data["graphviz"]["missing"] is True and "graphviz" in data["graphviz"]["hint"].lower()
    assert data["dot"].startswith("// Generated by netc render")
    assert data["units"]  # the page can still tie the table to the layers
    assert live.post("/api/analyze", {"text": TINY}).status == 200


def test_render_timeout_is_enforced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dot").write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n")
    (fake / "dot").chmod(0o755)
    monkeypatch.setenv("NETC_GRAPHVIZ", "dot")
    monkeypatch.setenv("PATH", str(fake))
    server, thread = start(Workspace(tmp_path), Engine(dot_timeout=0.5))
    try:
        live = Live(server, tmp_path, server.server_address[1])
        started = time.monotonic()
        data = live.post("/api/render", {"text": TINY}).json()
        assert time.monotonic() - started < 10
        assert data["svg"] is None and "0.5 s" in data["graphviz"]["message"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_build_torch_source(live: Live) -> None:
    reply = live.post("/api/build?target=torch", {"text": TINY, "path": "tiny.net"})
    assert reply.status == 200, reply.body
    assert reply.headers["content-type"].startswith("text/x-python")
    assert reply.headers["content-disposition"] == 'attachment; filename="tiny.py"'
    source = reply.body.decode()
    assert "import torch" in source and "class" in source
    compile(source, "tiny.py", "exec")
    assert live.post("/api/build?target=tf", {"text": TINY}).status == 400


def test_build_onnx_or_a_clear_message(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    reply = live.post("/api/build?target=onnx", {"text": TINY, "path": "tiny.net"})
    if reply.status == 200:
        onnx = pytest.importorskip("onnx")
        model = onnx.load_from_string(reply.body)
        assert model.graph.node and reply.headers["content-disposition"].endswith('tiny.onnx"')
    else:
        assert reply.status in (422, 501), reply.body
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` raises ImportError
    missing = live.post("/api/build?target=onnx", {"text": TINY})
    assert missing.status == 501
    data = missing.json()
    assert "onnx package" in data["error"] and "pip install" in data["diagnostics"][0]["hint"]


# ---- hostile requests ------------------------------------------------------------------------


def _alive(live: Live) -> None:
    assert live.request("GET", "/api/info", timeout=10).status == 200


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02 garbage \udcff",
        "layer {" * 5000,
        "[" * 100_000,
        "x: " + "(" * 10_000 + "1" + ")" * 10_000,
        'define f(n) { f "a" { n: n } }\nf "x" { n: 1 }',
        'repeat i in 1..1000000000 { layer { name: "l${i}" type: "ReLU" } }',
        "a: 1 " * 100_000,
        "#" * (DEFAULT_LIMITS.max_source_bytes + 10),
        "",
        "}",
    ],
    ids=[
        "binary",
        "unclosed",
        "nested-brackets",
        "nested-parens",
        "recursive-template",
        "huge-repeat",
        "too-many-tokens",
        "over-size",
        "empty",
        "stray-brace",
    ],
)
def test_garbage_specs_get_diagnostics_and_the_server_keeps_running(live: Live, text: str) -> None:
    started = time.monotonic()
    for endpoint in ("/api/analyze", "/api/render"):
        reply = live.request(
            "POST",
            endpoint,
            raw=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert reply.status in (200, 422), (endpoint, reply.status, reply.body[:300])
        data = reply.json()
        if reply.status == 422:
            assert data["diagnostics"] and all(d["message"] for d in data["diagnostics"])
    assert time.monotonic() - started < 20
    _alive(live)


def test_request_size_limit_is_413(live: Live) -> None:
    limit = live.server.app.max_body
    reply = live.request(
        "POST",
        "/api/analyze",
        headers={"Content-Type": "application/json", "Content-Length": str(100 * limit)},
        raw=b"",  # the server refuses from the header alone, before reading a byte
    )
    assert reply.status == 413 and "over the limit" in reply.json()["error"]
    big = json.dumps({"text": "#" * (limit + 10)}).encode()
    reply = live.request(
        "POST", "/api/analyze", raw=big, headers={"Content-Type": "application/json"}
    )
    assert reply.status == 413  # read to the end and answered, not a broken pipe
    _alive(live)


@pytest.mark.parametrize(
    ("raw", "headers", "status"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400),
        (b"[" * 200_000, {"Content-Type": "application/json"}, 400),
        (b'"a string"', {"Content-Type": "application/json"}, 400),
        (b"\xff\xfe", {"Content-Type": "application/json"}, 400),
        (b'{"text": "x"}', {"Content-Type": "text/plain"}, 415),
        (b'{"text": "x"}', {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ],
)
def test_bad_bodies(live: Live, raw: bytes, headers: dict[str, str], status: int) -> None:
    reply = live.request("POST", "/api/analyze", raw=raw, headers=headers)
    assert reply.status == status, reply.body
    assert reply.json()["ok"] is False
    _alive(live)


def test_missing_content_length_is_411(live: Live) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n\r\n"
        )
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 411")


def test_unknown_endpoints_and_methods(live: Live) -> None:
    assert live.request("GET", "/api/nope").status == 404
    assert live.request("DELETE", "/api/file?path=tiny.net").status == 404
    assert live.request("GET", "/api/file").status == 400
    options = live.request("OPTIONS", "/api/analyze")
    assert "access-control-allow-origin" not in options.headers  # no CORS, ever


def test_foreign_hosts_and_origins_are_refused(live: Live) -> None:
    """DNS rebinding and cross-site requests from pages in the user's browser."""
    rebinding = live.request("GET", "/api/file?path=tiny.net", headers={"Host": "evil.example"})
    assert rebinding.status == 403 and "host" in rebinding.json()["error"]
    cross = live.post("/api/analyze", {"text": TINY}, headers={"Origin": "https://evil.example"})
    assert cross.status == 403
    sandboxed = live.post("/api/analyze", {"text": TINY}, headers={"Origin": "null"})
    assert sandboxed.status == 403
    for host in ("localhost:8000", "127.0.0.1", "[::1]:9"):
        assert live.request("GET", "/api/info", headers={"Host": host}).status == 200
    assert (
        live.post(
            "/api/analyze", {"text": TINY}, headers={"Origin": f"http://127.0.0.1:{live.port}"}
        ).status
        == 200
    )


def test_an_unread_body_never_becomes_the_next_request(live: Live) -> None:
    """A refused request's body is not parsed as a second request on a kept-alive connection."""
    smuggled = b"GET /api/file?path=tiny.net HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/nope HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(smuggled)}\r\n\r\n".encode()
            + smuggled
        )
        answers = b""
        while chunk := sock.recv(65536):
            answers += chunk
    assert answers.startswith(b"HTTP/1.1 404") and answers.count(b"HTTP/1.1 ") == 1


def test_a_client_without_host_header_is_a_local_tool(live: Live) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(b"GET /api/info HTTP/1.0\r\n\r\n")
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200")


def test_is_loopback() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.1", "example.com", ""]))


def test_concurrent_requests(live: Live) -> None:
    texts = [TINY.replace("num_output: 10", f"num_output: {n}") for n in range(2, 12)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda t: live.post("/api/analyze", {"text": t}), texts))
    assert [r.status for r in replies] == [200] * len(texts)
    assert [r.json()["layers"][-1]["name"] for r in replies] == ["fc"] * len(texts)


# ---- performance ------------------------------------------------------------------------------


def round_trip(live: Live, text: str) -> float:
    """The page's round trip: analyze and render, sent at once, both answered."""
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        replies = list(
            pool.map(
                lambda endpoint: live.post(endpoint, {"text": text, "path": "resnet152.net"}),
                ("/api/analyze", "/api/render"),
            )
        )
    elapsed = time.perf_counter() - started
    assert [r.status for r in replies] == [200, 200]
    return elapsed


def test_resnet152_round_trip_is_well_under_a_second(live: Live) -> None:
    require_dot()
    text = (SPECS / "resnet152.net").read_text()
    round_trip(live, TINY)  # warm: imports, parser tables
    # a fresh text each time (a keystroke): nothing cached
    times = sorted(round_trip(live, text + f"# edit {i}\n") for i in range(3))
    assert times[1] < 1.0, f"ResNet-152 analyze + render took {times} s"


# ---- the renderer's node map ----------------------------------------------------------------


def test_to_dot_plan_maps_every_layer_to_one_drawn_node() -> None:
    graph = netc.load(SPECS / "googlenet.net")
    for depth in ("auto", "full", 1):
        options = RenderOptions(depth=depth)
        dot, drawing = to_dot_plan(graph, options)
        assert dot == to_dot(graph, options)  # the same bytes as before
        layers = [n.name for u in drawing.units for n in u.nodes]
        assert sorted(layers) == sorted(n.name for n in graph.nodes)
        for unit in drawing.units:
            assert re.search(rf"^\s*{unit.id} \[label=", dot, re.MULTILINE), unit.id


# ---- the command line -------------------------------------------------------------------------


def netc_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netc", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_cli_usage_errors(tmp_path: Path) -> None:
    assert "--port" in netc_cli("serve", "--help").stdout
    missing = netc_cli("serve", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    (tmp_path / "notes.txt").write_text("x")
    wrong = netc_cli("serve", str(tmp_path / "notes.txt"))
    assert wrong.returncode == 2 and "not a network spec" in wrong.stderr
    assert netc_cli("serve", "--port", "70000").returncode == 2


def test_cli_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = netc_cli("serve", str(tmp_path), "--port", str(port))
    assert result.returncode == 1 and "in use" in result.stderr, result.stderr


def test_cli_serves_a_file_until_interrupted(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.net"
    spec.write_text(TINY)
    process = subprocess.Popen(
        [sys.executable, "-m", "netc", "serve", str(spec), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the socket listens
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        port = int(match.group(1))
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/info")
        info = json.loads(connection.getresponse().read())
        connection.close()
        assert info["initial"] == {"root": "folder", "path": "tiny.net"}
        assert info["folder"] == str(tmp_path.resolve())
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_cli_warns_when_not_on_loopback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Checked without listening anywhere but loopback: the server's start is replaced."""
    from typer.testing import CliRunner

    import netc.serve as serve_package
    from netc.cli.app import app

    def refuse(*args: object, **kwargs: object) -> Server:
        raise OSError(errno.EADDRINUSE, "in use")

    monkeypatch.setattr(serve_package, "make_server", refuse)
    result = CliRunner().invoke(app, ["serve", str(tmp_path), "--host", "0.0.0.0"])
    assert result.exit_code == 1
    output = result.output if hasattr(result, "output") else ""
    output += getattr(result, "stderr", "") or ""
    assert "anyone who can reach this machine" in output and "in use" in output


def test_serve_imports_neither_torch_nor_onnx() -> None:
    code = (
        "import sys, netc.serve, netc.cli.serve_cmd;"
        "print([m for m in ('torch', 'onnx', 'onnxruntime') if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ},
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_text_that_is_not_unicode_is_refused_not_written(live: Live) -> None:
    reply = live.request(
        "PUT",
        "/api/file?path=surrogate.net",
        raw=b'{"text": "a \\udcff b", "etag": null}',
        headers={"Content-Type": "application/json"},
    )
    assert reply.status == 400 and "not valid Unicode" in reply.json()["error"]
    assert not (live.folder / "surrogate.net").exists()
    hostile = 'name: "\udcff"\n' + TINY.split("\n", 1)[1]  # a lone surrogate in a name
    analyzed = live.request(
        "POST",
        "/api/analyze",
        raw=json.dumps({"text": hostile}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert analyzed.status in (200, 422)
    json.loads(analyzed.body.decode("ascii"))  # answered as valid JSON


def test_an_imported_file_edited_on_disk_is_read_again(live: Live) -> None:
    (live.folder / "sub" / "width.net").write_text(
        'define fc_n() {\n  layer { name: "fc" type: "InnerProduct" num_output: 3 }\n}\n'
    )
    text = 'import "sub/width.net"\ninput: "data" input_shape { dim: 1 dim: 4 }\nfc_n "head" {}\n'

    def outputs() -> list[int]:
        data = live.post("/api/analyze", {"text": text, "path": "main.net"}).json()
        return next(iter(data["analysis"]["outputs"].values()))

    assert outputs() == [1, 3]
    (live.folder / "sub" / "width.net").write_text(
        'define fc_n() {\n  layer { name: "fc" type: "InnerProduct" num_output: 5 }\n}\n'
    )
    assert outputs() == [1, 5]
