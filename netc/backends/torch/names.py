"""Identifiers and literals for generated Python: nothing a spec says can become code.

Spec text reaches generated source in three ways only, each through this module:
- as a string literal (`py_str`): printable ASCII kept, everything else escaped, so the file
  is pure ASCII and a quote, backslash or line break can never end the literal;
- inside a comment (`comment_text`): the same escaping, without quotes, on one line;
- as an identifier (`identifier`, `attribute`): only when it already is a plain ASCII
  identifier that is safe in that position; otherwise a deterministic sanitised name
  (identifiers) or access by string literal (module names, which must stay exact).
Runtime-free: imports no torch.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re

# Attributes an nn.Module (or a generated class) already has: a submodule of that name must be
# registered through `_modules[...]`, never as `self.name`. Checked against the installed torch
# by tests/test_torch_codegen.py.
MODULE_ATTRIBUTES = frozenset(
    [
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
        "param_groups",
    ]
)

# Names generated code uses at module level: a class may not take one of these names.
RESERVED_GLOBALS = frozenset(
    {"torch", "nn", "F", "Tensor", "MULTIPLIERS", "EVAL_BATCHNORM", "multipliers", "module_dict"}
    | {"self", "super"}
    | set(dir(builtins))
)

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def is_plain(name: str) -> bool:
    """An ASCII identifier that is no keyword (non-ASCII identifiers are NFKC-normalised by
    Python, so `self.ﬁ` would name `fi`: they are never plain)."""
    return bool(_PLAIN.match(name)) and not keyword.iskeyword(name)


def is_attribute(name: str) -> bool:
    """Whether a submodule may be written `self.name`: plain, public, and no attribute of
    nn.Module (nor a dunder)."""
    return is_plain(name) and not name.startswith("_") and name not in MODULE_ATTRIBUTES


def identifier(text: str, fallback: str = "x") -> str:
    """A plain identifier made from `text`: characters outside [A-Za-z0-9_] become `_`, a
    leading digit gets `_` in front... deterministic, and never a keyword."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", text)
    name = re.sub(r"_+", "_", name).strip("_") or fallback
    if name[0].isdigit():
        name = f"{fallback}{name}" if fallback[-1:].isalpha() else f"_{name}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        name += "_"
    return name


def camel_case(text: str, fallback: str = "Block") -> str:
    """A class name: `bottleneck` -> `Bottleneck`, `basic_conv` -> `BasicConv`, `se-block` ->
    `SeBlock`; other characters are dropped, so the result is always a plain identifier."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", text) if p]
    name = "".join(p[0].upper() + p[1:] for p in parts) or fallback
    if name[0].isdigit():
        name = fallback + name
    return name


class Namer:
    """Unique identifiers within one namespace, first come first served: `x`, `x_2`, ..."""

    def __init__(self, taken: set[str] | frozenset[str] = frozenset()) -> None:
        self.taken = set(taken)

    def take(self, wanted: str) -> str:
        name, n = wanted, 1
        while name in self.taken:
            n += 1
            name = f"{wanted}_{n}"
        self.taken.add(name)
        return name


def py_str(text: str) -> str:
    """A double-quoted Python literal of `text` in printable ASCII: `"`, `\\` and every other
    character outside 0x20-0x7e escaped."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def comment_text(text: str, limit: int = 200) -> str:
    """Spec text for a `#` comment: escaped like a literal (one line, ASCII), quotes kept."""
    body = py_str(text)[1:-1]
    return body if len(body) <= limit else body[: limit - 3] + "..."


def py_literal(value: object) -> str:
    """A constructor argument as source: numbers, booleans, None, strings, tuples."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else f'float("{value}")'
    if isinstance(value, str):
        return py_str(value)
    if isinstance(value, tuple | list):
        items = [py_literal(v) for v in value]
        if isinstance(value, list):
            return f"[{', '.join(items)}]"
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    raise TypeError(f"no literal form for {type(value).__name__}")
