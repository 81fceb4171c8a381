"""Backends: code and artifacts generated from the IR. Heavy libraries are imported lazily inside them."""
