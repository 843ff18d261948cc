"""Training and deployment with the generated modules: optimizer groups from lr_mult/decay_mult,
freezing, and what torch does with a module (compile, TorchScript, channels_last, autocast)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import netc

try:
    import torch
    from torch import nn
except ImportError:  # pragma: no cover - CI installs torch (scripts/setup.sh)
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("torch is not installed", allow_module_level=True)

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]


def groups_by_name(
    model: nn.Module, base_lr: float, decay: float
) -> dict[str, tuple[float, float]]:
    names = {id(p): n for n, p in model.named_parameters()}
    out = {}
    for group in model.param_groups(base_lr, decay):  # type: ignore[operator]
        for param in group["params"]:
            out[names[id(param)]] = (group["lr"], group["weight_decay"])
    return out


def test_param_groups_follow_lr_and_decay_mult() -> None:
    model = netc.load(REPO / "specs/lenet.net").to_torch()  # biases: lr_mult 2
    groups = groups_by_name(model, 0.01, 5e-4)
    assert groups["conv1.weight"] == (0.01, 5e-4)
    assert groups["conv1.bias"] == (0.02, 5e-4)
    assert groups["ip2.bias"] == (0.02, 5e-4)
    assert set(groups) == {n for n, _ in model.named_parameters()}
    optimizer = torch.optim.SGD(model.param_groups(0.01, 5e-4), momentum=0.9)  # type: ignore[operator]
    assert len(optimizer.param_groups) == 2


def test_param_groups_from_caffe_and_tune(tmp_path: Path) -> None:
    text = (
        'input: "data" input_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n'
        'layer { name: "conv" type: "Convolution" num_output: 4 kernel_size: 3 '
        "param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 } }\n"
        'layer { name: "bn" type: "BatchNorm" param { lr_mult: 0 } param { lr_mult: 0 } '
        "param { lr_mult: 0 } }\n"
        'layer { name: "scale" type: "Scale" bias_term: true param { lr_mult: 0.5 } '
        "param { lr_mult: 0.5 decay_mult: 0 } }\n"
        'layer { name: "fc" type: "InnerProduct" num_output: 3 }\n'
    )
    (tmp_path / "base.net").write_text(text)
    (tmp_path / "tuned.net").write_text('extends "base.net"\ntune "fc" { lr_mult: 10 }\n')
    model = netc.load(tmp_path / "tuned.net").to_torch()
    groups = groups_by_name(model, 0.1, 1e-4)
    assert groups["conv.bias"] == (0.2, 0.0)
    assert groups["bn.weight"] == (0.05, 1e-4)  # the Scale's blobs, inside the fused BatchNorm
    assert groups["bn.bias"] == (0.05, 0.0)
    assert groups["fc.weight"] == (1.0, 1e-4)


def frozen_resnet(tmp_path: Path) -> tuple[netc.Graph, nn.Module]:
    (tmp_path / "resnet18.net").write_text((REPO / "specs/resnet18.net").read_text())
    spec = tmp_path / "finetune.net"
    spec.write_text(
        'extends "resnet18.net"\n'
        'replace "fc" { layer { name: "head" type: "InnerProduct" num_output: 10 } }\n'
        'freeze "conv1" .. "layer3"\n'
    )
    graph = netc.load(spec, batch=2, input_size=(64, 64))
    return graph, graph.to_torch()


def test_freezing(tmp_path: Path) -> None:
    _graph, model = frozen_resnet(tmp_path)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(
        n.startswith(("conv1", "bn1", "layer1", "layer2", "layer3")) for n in frozen
    )
    assert "layer4.0.conv1.weight" not in frozen and "head.weight" not in frozen
    groups = groups_by_name(model, 0.1, 1e-4)
    assert not frozen & set(groups)  # frozen parameters are in no group
    # BatchNorm of the frozen part stays in eval mode, the rest trains
    model.train()
    assert not model.bn1.training and not model.layer3[1].bn2.training
    assert model.layer4[0].bn1.training and model.training
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.param_groups(0.1, 1e-4), momentum=0.9)  # type: ignore[operator]
    loss = model(torch.randn(2, 3, 64, 64)).square().mean()
    loss.backward()
    optimizer.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert "layer4.1.conv2.weight" in changed and "head.bias" in changed
    assert not any(k.startswith(("conv1", "bn1", "layer1", "layer2", "layer3")) for k in changed)
    model.eval()
    assert not model.layer4[0].bn1.training


def test_frozen_flag_and_lr_mult_zero() -> None:
    text = (
        'input: "data" input_shape { dim: 2 dim: 3 dim: 8 dim: 8 }\n'
        'layer { name: "conv" type: "Convolution" num_output: 4 kernel_size: 3 frozen: true }\n'
        'layer { name: "bn" type: "BatchNorm" affine: true frozen: true }\n'
        'layer { name: "conv2" type: "Convolution" num_output: 4 kernel_size: 3 '
        "param { lr_mult: 0 } param { lr_mult: 1 } }\n"
    )
    model = netc.load(text).to_torch()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"conv2.bias"}
    assert not model.train().bn.training


# ---- torch's tools -------------------------------------------------------------------------


def small() -> tuple[nn.Module, torch.Tensor]:
    graph = netc.load(REPO / "specs/resnet18.net", batch=2, input_size=(32, 32))
    torch.manual_seed(0)
    return graph.to_torch().eval(), torch.randn(2, 3, 32, 32)


@pytest.mark.slow
def test_torch_compile() -> None:
    graph = netc.load(REPO / "specs/lenet5.net", batch=2)
    model = graph.to_torch().eval()
    x = torch.randn(2, 1, 32, 32)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    with torch.no_grad():
        assert torch.allclose(compiled(x), model(x), atol=1e-5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript() -> None:
    model, x = small()
    scripted = torch.jit.script(model)
    with torch.no_grad():
        assert torch.allclose(scripted(x), model(x), atol=1e-5)
    # templates with optional modules, several outputs, helper modules
    for spec in (
        "se_resnet50.net",
        "googlenet_torchvision.net",
        "alphago_policy.net",
        "lenet5.net",
    ):
        torch.jit.script(netc.load(REPO / "specs" / spec).to_torch())


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_trace_where_names_are_not_identifiers(zoo_dir: Path) -> None:
    """Caffe names like "conv1/7x7_s2" are reached through `_modules[...]`, which TorchScript
    cannot compile: such modules trace."""
    graph = netc.load(
        zoo_dir / "caffe/bvlc_googlenet.deploy.prototxt", batch=1, input_size=(224, 224)
    )
    model = graph.to_torch().eval()
    with pytest.raises(Exception):  # noqa: B017 - TorchScript's own error types vary
        torch.jit.script(model)
    x = torch.randn(1, 3, 224, 224)
    traced = torch.jit.trace(model, x)
    with torch.no_grad():
        assert torch.allclose(traced(x), model(x), atol=1e-5)


def test_channels_last() -> None:
    model, x = small()
    reference = model(x)
    model = model.to(memory_format=torch.channels_last)
    out = model(x.to(memory_format=torch.channels_last))
    assert torch.allclose(out, reference, atol=1e-4)


def test_autocast_bf16_on_cpu() -> None:
    model, x = small()
    reference = model(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), reference, atol=0.1 * reference.abs().max().item())
    # training under autocast: gradients reach every parameter
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = model(x).float().square().mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_deepcopy_and_state_dict_roundtrip() -> None:
    import copy

    model, x = small()
    clone = copy.deepcopy(model)
    assert torch.equal(clone(x), model(x))
    fresh = netc.load(REPO / "specs/resnet18.net").to_torch().eval()
    fresh.load_state_dict(model.state_dict(), strict=True)
    assert torch.equal(fresh(x), model(x))


def test_distributed_data_parallel(tmp_path: Path) -> None:
    """A generated module trains under DistributedDataParallel (one gloo process here)."""
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        model = netc.load(REPO / "specs/lenet5.net", batch=2).to_torch()
        ddp = nn.parallel.DistributedDataParallel(model)
        optimizer = torch.optim.SGD(model.param_groups(0.1, 1e-4))  # type: ignore[operator]
        before = model.c1.weight.detach().clone()
        ddp(torch.randn(2, 1, 32, 32)).square().mean().backward()
        optimizer.step()
        assert not torch.equal(before, model.c1.weight)
    finally:
        dist.destroy_process_group()
