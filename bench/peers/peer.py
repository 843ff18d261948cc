"""One peer measurement as a whole process: import torch, build the model, run the peer tool.

Usage: bench/.venv-peers/bin/python bench/peers/peer.py MODEL TOOL
  MODEL: resnet152 | caffe_resnet50 (bench/peers/models.py)
  TOOL:  torchinfo (torchinfo.summary) | fvcore (fvcore.nn.FlopCountAnalysis + parameter_count)

Prints the tool's own per-layer report (torchinfo's summary table, fvcore's flop_count_table), as a
user would see it, then one JSON line: the tool's parameter count and its MAC-like totals, so
bench_analyze.py can show them beside netc's. Run by bench_analyze.py with OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    model_name, tool = sys.argv[1], sys.argv[2]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch
    from models import MODELS

    model = MODELS[model_name]().eval()
    shape = (1, 3, 224, 224)
    result: dict[str, object] = {"model": model_name, "tool": tool}
    if tool == "torchinfo":
        from torchinfo import summary

        # verbose=1 is summary()'s default outside notebooks: it prints its per-layer table, as
        # `netc analyze` does; the table goes to stdout like netc's.
        stats = summary(model, input_size=shape, verbose=1)
        result["params"] = stats.total_params
        result["mult_adds"] = stats.total_mult_adds  # convs, linears and BN (weights × outputs)
    elif tool == "fvcore":
        import logging

        from fvcore.nn import FlopCountAnalysis, flop_count_table, parameter_count

        logging.disable(logging.WARNING)  # "unsupported operator aten::add_" and the like
        with torch.no_grad():
            flops = FlopCountAnalysis(model, torch.zeros(shape))
            flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            by_op = dict(flops.by_operator())
            result["flops"] = flops.total()  # fvcore counts one "flop" per multiply-add
            print(flop_count_table(flops))  # fvcore's per-module table, the counterpart of netc's
        result["by_operator"] = by_op
        result["conv_linear"] = (
            by_op.get("conv", 0) + by_op.get("linear", 0) + by_op.get("addmm", 0)
        )
        result["params"] = parameter_count(model)[""]
    else:
        sys.exit(f"peer.py: unknown tool {tool!r} (torchinfo or fvcore)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
