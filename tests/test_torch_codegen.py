"""The generated PyTorch source: how it reads, what it names, and that no spec text becomes code.

Checks the text `netc build --target torch` writes (torchvision-like classes, exact
state_dict keys, imports, determinism), hostile names and strings (never code), and the
command line (stdout, -o, the generated-file marker, --force, exit codes, no torch import).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import netc
from netc.backends.torch import MARKER, generate
from netc.backends.torch.names import MODULE_ATTRIBUTES, camel_case, identifier, py_str

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - CI installs torch (scripts/setup.sh)
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("torch is not installed", allow_module_level=True)

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SPECS = sorted((REPO / "specs").glob("*.net"))


def source_of(spec: str | Path, **kw: object) -> str:
    return generate(netc.load(spec, **kw), str(spec)).source  # type: ignore[arg-type]


def classes(source: str) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}


def imported(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
    return names


def method(cls: ast.ClassDef, name: str) -> ast.FunctionDef:
    return next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == name)


# ---- reads like torchvision ----------------------------------------------------------------


def test_resnet50_reads_like_torchvision() -> None:
    source = source_of(REPO / "specs/resnet50.net")
    assert len(source.splitlines()) <= 120
    found = classes(source)
    assert set(found) == {"Bottleneck", "Resnet50"}
    init = ast.unparse(method(found["Bottleneck"], "__init__"))
    assert "self.downsample = None" in init and "if downsample:" in init
    forward = ast.unparse(method(found["Bottleneck"], "forward"))
    assert "out += identity" in forward
    assert "if self.downsample is not None:" in forward
    top = ast.unparse(method(found["Resnet50"], "__init__"))
    assert "self.layer1 = nn.Sequential(" in top
    assert "for _ in range(5)" in top  # layer3's five identical blocks, written once
    # a straight-line forward: no loops, no calls but modules and torch
    body = method(found["Resnet50"], "forward")
    assert not any(isinstance(n, ast.For | ast.While) for n in ast.walk(body))
    assert "x = self.layer4(x)" in ast.unparse(body)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("resnet18.net", {"BasicBlock", "Resnet18"}),
        ("googlenet_torchvision.net", {"BasicConv", "Inception", "Googlenet"}),
        ("se_resnet50.net", {"Se", "SeBottleneck", "SeResnet50"}),
        ("vgg16.net", {"Vgg16"}),
    ],
)
def test_one_class_per_template(spec: str, expected: set[str]) -> None:
    assert set(classes(source_of(REPO / "specs" / spec))) == expected


def test_sequential_for_torchvision_names() -> None:
    source = source_of(REPO / "specs/vgg16.net")
    forward = ast.unparse(method(classes(source)["Vgg16"], "forward"))
    assert "x = self.features(x)" in forward and "self.classifier(x)" in forward
    inception = classes(source_of(REPO / "specs/googlenet_torchvision.net"))["Inception"]
    text = ast.unparse(inception)
    assert "branch2 = self.branch2(x)" in text
    assert "torch.cat([branch1, branch2, branch3, branch4], 1)" in text


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_self_contained_and_tidy(spec: Path) -> None:
    source = source_of(spec)
    assert imported(source) <= {"torch", "torch.nn.functional"}
    assert source.isascii()
    assert source.startswith(f"# {MARKER}")
    compile(source, "<generated>", "exec")
    long = [line for line in source.splitlines()[1:] if len(line) > 100]
    assert not long, long[:3]


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_state_dict_keys_are_the_spec_names(spec: Path) -> None:
    graph = netc.load(spec)
    with torch.device("meta"):
        model = graph.to_torch()
    keys = {k for k, _ in model.named_parameters()}
    expected = {f"{n.name}.{b.name}" for n in graph.nodes for b in n.blobs if b.kind == "param"}
    absorbed = {k for k in expected if k.split(".")[-1] in ("weight", "bias")} - keys
    assert not absorbed, sorted(absorbed)[:5]
    assert keys == expected


def test_caffe_batchnorm_scale_pair_is_one_module(zoo_dir: Path) -> None:
    graph = netc.load(zoo_dir / "caffe/ResNet-50-deploy.prototxt")
    with torch.device("meta"):
        model = graph.to_torch()
    bn = model.get_submodule("bn_conv1")
    assert isinstance(bn, nn.BatchNorm2d) and bn.affine
    assert not hasattr(model, "scale_conv1")
    scale = graph.node("scale_conv1")
    assert [b.size for b in scale.blobs] == [bn.weight.numel(), bn.bias.numel()]
    assert sum(p.numel() for p in model.parameters()) == graph.params_count("param")


def test_generation_is_deterministic() -> None:
    spec = REPO / "specs/googlenet_torchvision.net"
    assert source_of(spec) == source_of(spec)
    text = spec.read_text(encoding="utf-8")
    assert generate(netc.load(text), "x.net").source == generate(netc.load(text), "x.net").source


def test_to_torch_runs_the_generated_source() -> None:
    import inspect

    graph = netc.load(REPO / "specs/resnet18.net")
    model = graph.to_torch()
    assert inspect.getsource(type(model)) in generate(graph).source
    assert inspect.getsource(type(model.layer1[0])).startswith("class BasicBlock(nn.Module):")


# ---- names and strings are never code ------------------------------------------------------


HOSTILE = [
    'a"b',
    "c\\d",
    "e\nf",
    "tab\there",
    '"); __import__("os").system("touch PWNED"); ("',
    "'); __import__('os').system('touch PWNED'); ('",
    '"""',
    "'''",
    "ünïcode",
    "\u202eevil",  # right-to-left override
    "ﬁ",  # NFKC-normalised to "fi" as an identifier
    "class",
    "import",
    "__init__",
    "__class__",
    "__dict__",
    "forward",
    "training",
    "_modules",
    "_parameters",
    "state_dict",
    "self",
    "x",
    "torch",
    "nn",
    "0",
    "keys",
    "x y",
    "#comment",
    "\\",
]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


def hostile_net(names: list[str], template: str = "") -> str:
    lines = [
        'name: "a\\"b\\n\\"\\"\\" import os"',
        'input: "data"',
        "input_shape { dim: 1 dim: 2 dim: 5 dim: 5 }",
    ]
    bottom = "data"
    for i, name in enumerate(names):
        lines.append(
            f'layer {{ name: "{_escape(name)}" type: "Convolution" bottom: "{_escape(bottom)}" '
            f'top: "{_escape(name)}" num_output: 2 kernel_size: 1 }}'
        )
        bottom = name
        if i % 3 == 0:
            relu = f"{name}/relu"
            lines.append(
                f'layer {{ name: "{_escape(relu)}" type: "ReLU" bottom: "{_escape(name)}" '
                f'top: "{_escape(name)}" }}'
            )
    return "\n".join(lines) + "\n" + template


def assert_inert(source: str) -> None:
    """Only the imports, definitions and calls netc writes: no spec text became code."""
    tree = ast.parse(source)
    assert imported(source) <= {"torch", "torch.nn.functional"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"__import__", "exec", "eval", "open", "compile"}
        if isinstance(node, ast.Attribute):
            assert node.attr not in {"system", "popen"}
    assert source.isascii()


def test_hostile_layer_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    graph = netc.load(hostile_net(HOSTILE))
    source = generate(graph).source
    assert_inert(source)
    model = graph.to_torch()
    assert not (tmp_path / "PWNED").exists()
    keys = [k.rsplit(".", 1)[0] for k in model.state_dict()]
    assert list(dict.fromkeys(keys)) == HOSTILE  # every name exactly, in order
    out = model(torch.randn(1, 2, 5, 5))
    assert out.shape == (1, 2, 5, 5)
    # nn.Module's own attributes are untouched by layers named like them
    assert isinstance(model.training, bool) and callable(model.forward)
    assert isinstance(model._modules, dict)


def test_hostile_names_inside_templates() -> None:
    text = hostile_net(["conv"]) + (
        "define class(n: int) {\n"
        '  layer { name: "forward" type: "Convolution" num_output: n kernel_size: 1 }\n'
        '  layer { name: "\\"); import os; (" type: "ReLU" inplace: true }\n'
        '  layer { name: "0.x" type: "Convolution" num_output: n kernel_size: 1 }\n'
        "}\n"
        "define tensor() {\n"
        '  layer { name: "self" type: "Convolution" num_output: 2 kernel_size: 1 }\n'
        "}\n"
        'class "__init__" { n: 2 }\n'
        'class "nn.a b" { n: 2 }\n'
        'tensor "torch" { }\n'
    )
    graph = netc.load(text)
    source = generate(graph).source
    assert_inert(source)
    found = classes(source)
    assert "Class" in found and "Tensor" not in found  # Tensor is torch's: renamed
    model = graph.to_torch()
    keys = list(model.state_dict())
    assert "__init__.forward.weight" in keys and "nn.a b.0.x.weight" in keys
    assert "torch.self.weight" in keys
    assert model(torch.randn(1, 2, 5, 5)).shape == (1, 2, 5, 5)


def test_hostile_strings_in_comments() -> None:
    graph = netc.load(hostile_net(["conv"]))
    source = generate(graph, 'evil\n"""\nimport os\n').source
    assert_inert(source)
    first, second = source.splitlines()[:2]
    assert first.startswith("# ") and second.startswith('"""')
    tree = ast.parse(source)
    kinds = {type(n).__name__ for n in tree.body}
    assert kinds <= {
        "Expr",
        "Import",
        "ImportFrom",
        "Assign",
        "AnnAssign",
        "FunctionDef",
        "ClassDef",
    }
    docstring = ast.get_docstring(tree) or ""
    assert '"""' in docstring and "import os" in docstring  # the name, as data


def test_identifier_helpers() -> None:
    assert identifier("conv1/7x7_s2") == "conv1_7x7_s2"
    assert identifier("class") == "class_"
    assert identifier("1x1") == "x1x1"
    assert identifier("ü") == "x"
    assert camel_case("basic_conv") == "BasicConv" and camel_case("se-block") == "SeBlock"
    assert camel_case("_") == "Block"
    for text in HOSTILE:
        assert ast.literal_eval(py_str(text)) == text
        assert py_str(text).isascii() and "\n" not in py_str(text)


def test_reserved_module_attributes_cover_torch() -> None:
    public = {n for n in dir(nn.Module()) if not n.startswith("_")}
    assert public <= MODULE_ATTRIBUTES


def test_unsupported_layers_are_errors_at_their_field() -> None:
    text = (
        hostile_net(["conv"])
        + 'layer { name: "p" type: "Pooling" pool: STOCHASTIC kernel_size: 2 }\n'
    )
    graph = netc.load(text)
    with pytest.raises(netc.NetcError) as info:
        generate(graph)
    diagnostic = info.value.diagnostics[0]
    assert "STOCHASTIC" in diagnostic.message and diagnostic.span is not None
    assert diagnostic.span.line == text.count("\n", 0, text.index("STOCHASTIC")) + 1


# ---- the command line ----------------------------------------------------------------------


def netc_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netc", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env or dict(os.environ, OMP_NUM_THREADS="1"),
    )


def test_build_to_stdout_and_file(tmp_path: Path) -> None:
    spec = REPO / "specs/resnet18.net"
    result = netc_cli("build", str(spec), "--target", "torch", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == source_of(spec)
    out = tmp_path / "model.py"
    result = netc_cli("build", str(spec), "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8") == source_of(spec)
    assert [p.name for p in tmp_path.iterdir()] == ["model.py"]  # no temporary left
    # a file netc generated is replaced without --force
    result = netc_cli("build", str(REPO / "specs/resnet34.net"), "-o", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "class Resnet34" in out.read_text(encoding="utf-8")


def test_build_refuses_to_overwrite_a_foreign_file(tmp_path: Path) -> None:
    out = tmp_path / "model.py"
    out.write_text("# my own model\n", encoding="utf-8")
    spec = str(REPO / "specs/lenet.net")
    result = netc_cli("build", spec, "-o", str(out), cwd=tmp_path)
    assert result.returncode == 2
    assert "not generated by netc" in result.stderr and "--force" in result.stderr
    assert out.read_text(encoding="utf-8") == "# my own model\n"
    result = netc_cli("build", spec, "-o", str(out), "--force", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8").startswith(f"# {MARKER}")


def test_build_usage_and_input_errors(tmp_path: Path) -> None:
    spec = str(REPO / "specs/lenet.net")
    result = netc_cli("build", spec, "--target", "caffe2", cwd=tmp_path)
    assert result.returncode == 2 and "--target" in result.stderr
    bad = tmp_path / "bad.net"
    bad.write_text(
        'input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
        'layer { name: "p" type: "Pooling" pool: STOCHASTIC kernel_size: 2 }\n'
    )
    result = netc_cli("build", str(bad), cwd=tmp_path)
    assert result.returncode == 1 and "bad.net:2:" in result.stderr
    assert "Traceback" not in result.stderr


def test_build_does_not_import_torch(tmp_path: Path) -> None:
    decoys = tmp_path / "decoys"
    for name in ("torch", "onnx", "onnxruntime"):
        (decoys / name).mkdir(parents=True)
        (decoys / name / "__init__.py").write_text("raise ImportError('decoy')\n")
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(decoys), str(REPO), os.environ.get("PYTHONPATH")])
        ),
    )
    result = netc_cli("build", str(REPO / "specs/resnet50.net"), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "class Bottleneck" in result.stdout


def test_docs_show_the_current_resnet50() -> None:
    """docs/torch.md quotes `netc build specs/resnet50.net --target torch` verbatim."""
    doc = (REPO / "docs/torch.md").read_text(encoding="utf-8")
    marker = "`netc build specs/resnet50.net --target torch` (120 lines):\n\n```python\n"
    assert marker in doc
    quoted = doc.split(marker, 1)[1].split("\n```\n", 1)[0] + "\n"
    assert quoted == generate(netc.load(REPO / "specs/resnet50.net"), "specs/resnet50.net").source
    assert len(quoted.splitlines()) == 120


VARIANTS = """input: "data" input_shape { dim: 1 dim: 2 dim: 5 dim: 5 }
define blk(a: bool, k: int = 1) {
  layer { name: "conv" type: "Convolution" num_output: 2 kernel_size: k pad: k // 2 }
  if a { layer { name: "abs" type: "AbsVal" } }
  layer { name: "relu" type: "ReLU" bottom: a ? "abs" : "conv" }
}
define odd(s: bool) {
  if s { layer { name: "x" type: "Sigmoid" } } else { layer { name: "x" type: "TanH" } }
}
blk "b1" { a: true }
blk "b2" { a: false k: 3 }
blk "b3" { a: true k: 3 }
odd "o1" { s: true }
odd "o2" { s: false }
"""


def test_template_variants() -> None:
    """Instances that differ by an optional layer share a class (a flag); instances whose
    layers differ in type get a class each."""
    graph = netc.load(VARIANTS)
    source = generate(graph).source
    found = classes(source)
    assert set(found) == {"Blk", "Odd", "Odd_2", "Net"}
    blk = ast.unparse(found["Blk"])
    assert "def __init__(self, kernel_size: int, padding: int, with_abs: bool)" in blk
    assert "if self.with_abs:" in blk
    model = graph.to_torch()
    x = torch.randn(1, 2, 5, 5)
    h = model.b1.conv(x).abs().relu()
    h = model.b2.conv(h).relu()
    h = model.b3.conv(h).abs().relu()
    assert torch.allclose(model(x), torch.tanh(torch.sigmoid(h)))
