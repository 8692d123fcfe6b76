"""labctl: build network and platform test labs from YAML specs."""

__version__ = "0.1.0"
