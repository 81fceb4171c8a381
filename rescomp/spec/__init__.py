"""Spec loading: safe located YAML, validation into frozen objects, and the bundled library."""
