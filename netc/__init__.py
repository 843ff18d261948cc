"""netc: a declarative neural-network definition compiler and analyzer."""

from netc.api import expand, load
from netc.diagnostics import Diagnostic, NetcError
from netc.ir.graph import Blob, Graph, Node, Tensor

__all__ = ["Blob", "Diagnostic", "Graph", "NetcError", "Node", "Tensor", "expand", "load"]
__version__ = "0.1.0"
