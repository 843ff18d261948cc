"""`netc analyze` and `netc diff` through the command line (a subprocess per case, since the
CLI is the point: option parsing, output formats, exit codes, start-up imports).

Numbers: REF §1/§2 = zoo/REFERENCE.md; everything else is computed here by hand or through the
library functions that tests/test_analysis.py checks against independent sources.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import netc
from netc.analysis.budget import fit_batch
from netc.analysis.core import analyze
from netc.analysis.report import document

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
HEAVY = ("torch", "onnx", "onnxruntime")
GiB = 2**30


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netc", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def ok(*args: str) -> str:
    result = run(*args)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def analyze_json(*args: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(ok("analyze", *args, "--format", "json"))
    return doc


def flat(text: str) -> str:
    """Whitespace collapsed: rich wraps long titles at the console width."""
    return " ".join(text.split())


def library_document(path: Path, **kwargs: Any) -> dict[str, Any]:
    graph = netc.load(path, **kwargs)
    doc: dict[str, Any] = json.loads(json.dumps(document(analyze(graph))))
    return doc


def schema_validator() -> Any:
    """Validator for docs/analysis.schema.json: skipped locally without jsonschema, a failure
    under CI (CI=true), where the dependency must be installed."""
    try:
        import jsonschema
    except ImportError:
        message = "jsonschema is not installed: the JSON schema cannot be checked"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    schema = json.loads((ROOT / "docs" / "analysis.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


# ---- formats -------------------------------------------------------------------------------------


def test_table_states_convention_input_and_batch() -> None:
    out = flat(ok("analyze", "specs/vgg16.net"))
    assert out.startswith("vgg16: input data 1×3×224×224, batch 1, fp32; counting: netc")
    assert "MACs = conv/deconv/fc multiply-accumulates, bias excluded" in out
    assert "features.30" in out and "classifier.6" in out
    # REF §2 vgg16: 138,357,544 params, 15,470,264,320 MACs.
    assert "params 138,357,544 (138.36M): trainable 138,357,544, frozen 0; buffers 0" in out
    assert "MACs 15,470,264,320 (15.47G)" in out
    assert "training memory (sgd-momentum, batch 1): peak" in out


def test_table_header_follows_the_options() -> None:
    out = flat(
        ok(
            "analyze",
            "specs/resnet50.net",
            "--batch",
            "8",
            "--input-size",
            "320x320",
            "--count",
            "torch",
            "--dtype",
            "bf16",
        )
    )
    assert out.startswith("resnet50: input data 8×3×320×320, batch 8, bf16; counting: torch")
    # by hand (tests/test_analysis.py::test_batch_and_input_size_scale_macs): REF §2's
    # 4,089,184,256 MACs, of which fc 2,048,000; the convolutions scale by (320/224)² = 100/49.
    macs = 8 * ((4_089_184_256 - 2_048_000) * 100 // 49 + 2_048_000)
    assert f"MACs {macs:,}" in out
    assert f"FLOPs {2 * macs:,}" in out  # torch: 2 per MAC, nothing else


def test_json_is_the_library_document_and_validates() -> None:
    doc = analyze_json("specs/vgg16.net")
    assert doc == library_document(SPECS / "vgg16.net")
    assert doc["schema"] == "netc.analysis/2"
    assert doc["totals"]["params"] == 138_357_544  # REF §2
    schema_validator().validate(doc)


def test_yaml_is_the_same_document() -> None:
    text = ok("analyze", "specs/googlenet.net", "--format", "yaml")
    assert yaml.safe_load(text) == library_document(SPECS / "googlenet.net")


def test_csv_has_one_row_per_layer() -> None:
    text = ok("analyze", "specs/resnet18.net", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    graph = netc.load(SPECS / "resnet18.net")
    assert [r["name"] for r in rows] == [n.name for n in graph.nodes]
    assert sum(int(r["weights"]) + int(r["biases"]) for r in rows) == 11_689_512  # REF §2
    assert sum(int(r["macs"]) for r in rows) == 1_814_073_344  # REF §2
    assert rows[1]["output"] == "1x64x112x112"


def test_markdown_table() -> None:
    text = ok("analyze", "specs/lenet5.net", "--format", "markdown")
    lines = text.splitlines()
    assert lines[0].startswith("**LeNet-5: input data 1×1×32×32, batch 1, fp32; counting: netc")
    table = [line for line in lines if line.startswith("|")]
    graph = netc.load(SPECS / "lenet5.net")
    assert len(table) == 2 + len(graph)  # heading, rule, one per layer
    assert table[0].startswith("| layer | type | output |")
    assert any(line.startswith("- params 61,750 ") for line in lines)  # by hand: test_zoo_specs


# ---- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dtype", "size", "optimizer", "copies"),
    [("fp32", 4, "sgd", 0), ("fp16", 2, "adamw", 2)],
)
def test_dtype_and_optimizer(dtype: str, size: int, optimizer: str, copies: int) -> None:
    doc = analyze_json("specs/resnet18.net", "--dtype", dtype, "--optimizer", optimizer)
    assert doc["convention"]["dtype"] == dtype
    assert doc["convention"]["optimizer"] == optimizer
    memory = doc["training_memory"]
    # by hand from REF §2 resnet18: 11,689,512 params (all trainable) + 9,620 buffers.
    assert memory["parameters"] == (11_689_512 + 9_620) * size
    assert memory["gradients"] == 11_689_512 * size
    assert memory["optimizer"] == copies * 11_689_512 * size
    conv1 = doc["layers"][1]
    assert conv1["activation_bytes"] == 64 * 112 * 112 * size


def test_depth_collapses_resnet152_instances() -> None:
    # depth 1: the stem, the four stages (the blocks layer1.0 ... share the prefix layer1, so
    # they nest as one group, as in the drawings), the head; depth 2: the blocks themselves.
    doc = analyze_json("specs/resnet152.net", "--depth", "1")
    names = [layer["name"] for layer in doc["layers"]]
    assert names == [
        "data",
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "avgpool",
        "fc",
    ]
    by_name = {layer["name"]: layer for layer in doc["layers"]}
    # He et al. Table 1, 152-layer: stages of 3, 8, 36 and 3 bottleneck blocks; each block has
    # 10 layers, and a stage's first block 2 more (the projection shortcut's conv and BN).
    assert by_name["layer3"]["type"] == "36 × bottleneck"
    assert [by_name[f"layer{s}"]["layers"] for s in range(1, 5)] == [
        10 * n + 2 for n in (3, 8, 36, 3)
    ]
    assert by_name["layer4"]["output"] == [1, 2048, 7, 7]
    # collapsing keeps the totals: REF §2 resnet152
    assert sum(layer["params"] for layer in doc["layers"]) == 60_192_808
    assert doc["totals"]["macs"] == 11_513_626_624

    doc = analyze_json("specs/resnet152.net", "--depth", "2")
    blocks = [f"layer{s}.{i}" for s, n in ((1, 3), (2, 8), (3, 36), (4, 3)) for i in range(n)]
    names = [layer["name"] for layer in doc["layers"]]
    assert names == ["data", "conv1", "bn1", "relu", "maxpool", *blocks, "avgpool", "fc"]
    by_name = {layer["name"]: layer for layer in doc["layers"]}
    assert by_name["layer1.0"]["type"] == "bottleneck"
    assert (by_name["layer1.0"]["layers"], by_name["layer1.1"]["layers"]) == (12, 10)


def test_sort_and_top() -> None:
    text = ok("analyze", "specs/vgg16.net", "--sort", "macs", "--top", "3", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3
    macs = [int(r["macs"]) for r in rows]
    assert macs == sorted(macs, reverse=True)
    # by hand: the five 3×3 convs with the most MACs each do 1,849,688,064 (e.g. features.2:
    # 224·224 · 64·64·9) — the top 3 all have that count.
    assert macs == [224 * 224 * 64 * 64 * 9] * 3
    doc = analyze_json("specs/vgg16.net", "--sort", "params", "--top", "1")
    assert [layer["name"] for layer in doc["layers"]] == ["classifier.0"]  # 25088·4096 weights
    assert doc["totals"]["params"] == 138_357_544  # totals stay whole-network


@pytest.mark.parametrize(
    ("counting", "macs", "flops"),
    [
        # REF §1 bvlc_alexnet: 724,406,816 MACs per image; torch: FLOPs = 2 × MACs.
        ("torch", 724_406_816, 2 * 724_406_816),
        # REF §1 Netscope: 726,791,936 per image, reported as its single "ops" figure.
        ("netscope", 726_791_936, 726_791_936),
    ],
)
def test_count_presets(zoo_dir: Path, counting: str, macs: int, flops: int) -> None:
    path = str(zoo_dir / "caffe" / "bvlc_alexnet.deploy.prototxt")
    doc = analyze_json(path, "--batch", "1", "--count", counting)
    assert doc["convention"]["counting"] == counting
    assert (doc["totals"]["macs"], doc["totals"]["flops"]) == (macs, flops)


# ---- --fit and --budget --------------------------------------------------------------------------


def test_fit_prints_the_batch() -> None:
    out = ok("analyze", "specs/resnet18.net", "--fit", "4GiB", "--optimizer", "adam")
    expected, _, _ = fit_batch(
        lambda b: netc.load(SPECS / "resnet18.net", batch=b),
        4 * GiB,
        dtype="fp32",
        optimizer="adam",
    )
    assert expected > 1
    assert f"fit 4.00 GiB: batch {expected} (peak " in out


def test_fit_and_budget_in_json_validate() -> None:
    doc = analyze_json(
        "specs/resnet50.net",
        "--fit",
        "24GiB",
        "--budget",
        "params<26M,macs<5G,train_mem(batch=2;optimizer=sgd)<1GiB",
    )
    assert doc["fit"]["limit_bytes"] == 24 * GiB
    assert doc["fit"]["batch"] > 1
    assert doc["fit"]["peak_bytes"] <= 24 * GiB
    assert [v["clause"] for v in doc["budget"]] == [
        "params<26M",
        "macs<5G",
        "train_mem(batch=2;optimizer=sgd)<1GiB",
    ]
    assert [v["ok"] for v in doc["budget"]] == [True, True, True]
    assert doc["budget"][0]["value"] == 25_557_032  # REF §2
    schema_validator().validate(doc)


def test_budget_exceeded_exits_3() -> None:
    # REF §2: resnet50 has 25,557,032 params (> 25M) and 4,089,184,256 MACs (< 5G).
    result = run("analyze", "specs/resnet50.net", "--budget", "params<25M,macs<5G")
    assert result.returncode == 3, result.stderr
    assert "budget params<25M: EXCEEDED (25.56M)" in result.stdout
    assert "budget macs<5G: ok (4.09G)" in result.stdout
    assert "netc: budget exceeded: params<25M (value 25,557,032)" in result.stderr
    assert "macs<5G" not in result.stderr


def test_budget_met_exits_0() -> None:
    result = run("analyze", "specs/resnet50.net", "--budget", "params<26M, macs<4.1G")
    assert result.returncode == 0, result.stderr
    assert "budget params<26M: ok" in result.stdout
    assert "budget macs<4.1G: ok" in result.stdout


def test_train_mem_budget_at_another_batch() -> None:
    # A training-memory clause loads the network at its own batch: at 64 a ResNet-50 needs more
    # than 1 GiB (its weights, gradients and momentum alone are 3 · 25.6M · 4 bytes = 293 MiB,
    # and 64 images' saved activations several GiB), while at batch 1 it fits.
    result = run(
        "analyze",
        "specs/resnet50.net",
        "--budget",
        "train_mem(batch=1)<1GiB,train_mem(batch=64)<1GiB",
    )
    assert result.returncode == 3
    assert "budget train_mem(batch=1)<1GiB: ok" in result.stdout
    assert "budget train_mem(batch=64)<1GiB: EXCEEDED" in result.stdout
    assert "train_mem(batch=1)" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--budget", "params<<3"],
        ["--budget", "speed<3"],
        ["--fit", "3XB"],
        ["--dtype", "fp8"],
        ["--format", "xml"],
        ["--batch", "0"],
        ["--input-size", "0x3"],
    ],
    ids=lambda a: " ".join(a),
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run("analyze", "specs/lenet5.net", *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "netc: error:" in result.stderr
    assert result.stdout == ""


def test_negative_top_is_a_usage_error() -> None:
    result = run("analyze", "specs/lenet5.net", "--top", "-1")
    assert result.returncode == 2


# ---- bad input -----------------------------------------------------------------------------------


def test_missing_file_exits_1(tmp_path: Path) -> None:
    result = run("analyze", str(tmp_path / "nope.net"))
    assert result.returncode == 1
    assert "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_network_exits_1_with_a_diagnostic(tmp_path: Path) -> None:
    bad = tmp_path / "bad.net"
    bad.write_text(
        'name: "bad"\ninput: "data"\ninput_shape { dim: 1 dim: 3 dim: 4 dim: 4 }\n'
        'layer { name: "conv" type: "Convolution" num_output: 8 kernel_size: 7 }\n',
        encoding="utf-8",
    )
    result = run("analyze", str(bad))
    assert result.returncode == 1
    assert f"{bad}:4:" in result.stderr  # file:line: of the offending layer
    assert "kernel 7 is larger than the padded input 4" in result.stderr
    assert result.stdout == ""
    diff = run("diff", str(bad), "specs/lenet5.net")
    assert diff.returncode == 1
    assert "kernel 7" in diff.stderr


# ---- netc diff -----------------------------------------------------------------------------------

BOTTLENECK = ["conv1", "bn1", "relu1", "conv2", "bn2", "relu2", "conv3", "bn3", "add", "relu3"]


def test_diff_resnet50_resnet101() -> None:
    out = ok("diff", "specs/resnet50.net", "specs/resnet101.net")
    assert out.splitlines()[0].startswith("resnet50 -> resnet101 (counting: netc)")
    # REF §2: params 25,557,032 -> 44,549,160; MACs 4,089,184,256 -> 7,801,405,440.
    params = next(line for line in out.splitlines() if "│ params " in line)
    assert "25,557,032" in params and "44,549,160" in params and "+18,992,128" in params
    macs = next(line for line in out.splitlines() if "│ macs " in line)
    assert "4,089,184,256" in macs and "7,801,405,440" in macs
    # He et al. Table 1: layer3 has 6 blocks in the 50-layer net, 23 in the 101-layer one; the
    # 17 new blocks layer3.6 .. layer3.22 are the only difference, listed one line per block.
    # by hand, a layer3 block (1024 -> 256 -> 1024): 1024·256 + 256·256·9 + 256·1024 weights +
    # BN γ/β 2·(256 + 256 + 1024) = 1,114,112 + 3,072 = 1,117,184 params in 10 layers.
    added = [line for line in out.splitlines() if line.startswith("added")]
    assert [flat(line) for line in added] == [
        f"added layer3.{i}: 10 layers, 1,117,184 params, 218.37M MACs" for i in range(6, 23)
    ]
    assert not any(line.startswith(("removed", "changed")) for line in out.splitlines())
    # JSON keeps one record per layer.
    doc = json.loads(ok("diff", "specs/resnet50.net", "specs/resnet101.net", "--format", "json"))
    assert [r["name"] for r in doc["added"]] == [
        f"layer3.{i}.{n}" for i in range(6, 23) for n in BOTTLENECK
    ]
    assert doc["removed"] == doc["changed"] == []
    assert sum(r["params"] for r in doc["added"]) == 17 * 1_117_184 == 44_549_160 - 25_557_032


def test_diff_of_a_derived_spec_against_its_base(tmp_path: Path) -> None:
    (tmp_path / "resnet18.net").write_text((SPECS / "resnet18.net").read_text(encoding="utf-8"))
    derived = tmp_path / "pets.net"
    derived.write_text(
        'extends "resnet18.net"\nname: "resnet18-pets"\n'
        'replace "fc" { layer { name: "head" type: "InnerProduct" num_output: 37 } }\n'
        'freeze "conv1" .. "layer4.1.relu2"\n',
        encoding="utf-8",
    )
    doc = json.loads(ok("diff", str(tmp_path / "resnet18.net"), str(derived), "--format", "json"))
    assert (doc["first"], doc["second"]) == ("resnet18", "resnet18-pets")
    assert [r["name"] for r in doc["removed"]] == ["fc"]
    assert [(r["name"], r["type"], r["output"]) for r in doc["added"]] == [
        ("head", "InnerProduct", [1, 37])
    ]
    # by hand: fc 512·1000 + 1000 = 513,000 params; head 512·37 + 37 = 18,981.
    assert doc["removed"][0]["params"] == 513_000
    assert doc["added"][0]["params"] == 18_981
    assert doc["totals"]["params"] == {
        "first": 11_689_512,  # REF §2
        "second": 11_689_512 - 513_000 + 18_981,
        "delta": 18_981 - 513_000,
    }
    # freezing shows as a trainable change on the frozen layers, nothing else changes
    assert doc["changed"], "the frozen layers should be listed as changed"
    assert all(c["fields"] == ["trainable"] for c in doc["changed"])
    names = {c["name"] for c in doc["changed"]}
    frozen = {n.name for n in netc.load(derived).nodes if n.blobs and n.frozen}
    assert names == frozen
    assert {"conv1", "bn1", "layer1.0.conv1", "layer4.1.conv2", "layer4.1.bn2"} <= names
    assert not names & {"layer4.1.conv3", "layer4.1.bn3", "fc", "head"}
    assert doc["totals"]["trainable"]["second"] < doc["totals"]["params"]["second"]


# ---- start-up ------------------------------------------------------------------------------------


def test_analyze_imports_neither_torch_nor_onnx(tmp_path: Path) -> None:
    # As tests/test_quality.py does for `netc check`: empty decoy packages shadow the real ones,
    # so even a guarded `try: import torch` would show up in `-X importtime`.
    for name in HEAVY:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("", encoding="utf-8")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "netc", "analyze", "specs/vgg16.net"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    modules = [
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    ]
    assert "netc.analysis.core" in modules
    assert sorted({m for m in modules if m.split(".")[0] in HEAVY}) == []


def test_top_zero_prints_only_the_totals() -> None:
    text = ok("analyze", "specs/lenet.net", "--top", "0")
    assert "params 431,080" in text  # REF §1 lenet.prototxt; the spec is the same network
    assert "conv1" not in text
