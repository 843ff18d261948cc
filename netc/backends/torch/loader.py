"""Execute generated source as a real module: registered in linecache (so inspect, TorchScript
and tracebacks see the code) and in sys.modules (so its classes pickle within the process)."""

from __future__ import annotations

import hashlib
import linecache
import sys
import types
from typing import Any

from netc.backends.torch.codegen import Generated


def load_source(source: str) -> types.ModuleType:
    """The module of `source`, executed once per distinct text."""
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    name = f"netc_generated_{digest}"
    module = sys.modules.get(name)
    if module is not None:
        return module
    filename = f"<netc-generated-{digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(name)
    module.__file__ = filename
    code = compile(source, filename, "exec")
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def instantiate(generated: Generated) -> Any:
    import torch  # noqa: F401  (the generated code imports it; fail here with a clear trace)

    module = load_source(generated.source)
    return getattr(module, generated.class_name)()
