"""Stage 1: read a lab spec, lay its layers, validate in one pass, and resolve it."""

from labctl.spec.lab import Lab, Network, Node
from labctl.spec.load import builtin_labs, find_spec, load_lab

__all__ = ["Lab", "Network", "Node", "builtin_labs", "find_spec", "load_lab"]
