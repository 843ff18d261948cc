"""Pretrained weights in: Caffe .caffemodel files (read directly, no Caffe or protobuf
package), torch state_dicts (.pt/.pth), safetensors and .npz, matched to a network's
generated torch module by layer name (docs/transfer.md).

    graph = netc.load("lenet.prototxt")
    model = graph.to_torch().eval()
    report = netc.weights.load_into(model, "lenet_iter_10000.caffemodel", graph)
"""

from __future__ import annotations

from netc.weights.load import LoadReport, Matched, load_into, match, read_weights
from netc.weights.sources import save_npz

__all__ = ["LoadReport", "Matched", "load_into", "match", "read_weights", "save_npz"]
