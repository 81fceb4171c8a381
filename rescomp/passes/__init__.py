"""Analysis passes: small pure functions over the IR, composed by :func:`analyze`."""

from rescomp.passes.analyze import Analysis, analyze, to_document

__all__ = ["Analysis", "analyze", "to_document"]
