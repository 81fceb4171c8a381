"""rescomp: a static-graph compiler and analyzer for residual networks."""

__version__ = "0.1.0"
