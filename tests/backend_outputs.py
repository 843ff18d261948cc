"""The generated torch module's and the ONNX model's outputs for the same inputs and weights:
what the layer tests compare with OpenCV or a reference forward."""

from __future__ import annotations

from typing import Any

import numpy as np

import netc


def torch_and_onnx(
    graph: netc.Graph,
    feeds: dict[str, np.ndarray],
    weights: dict[str, np.ndarray] | None = None,
    opset: int | None = None,
) -> list[np.ndarray]:
    """[torch, onnxruntime]: the first output of each, `feeds` given in forward order,
    `weights` (state_dict keys) loaded into both."""
    import onnxruntime as ort
    import torch

    from netc.backends.onnx import DEFAULT_OPSET, build_model

    module: Any = graph.to_torch().eval()
    if weights:
        module.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=False)
    with torch.no_grad():
        by_torch = module(*[torch.from_numpy(v) for v in feeds.values()]).numpy()
    model = build_model(graph, weights=weights or None, opset=opset or DEFAULT_OPSET)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [by_torch, session.run(None, feeds)[0]]
