"""Reusable network backbones built from ``keras.layers`` only (backend-agnostic), shared by plugins."""

from medzoo.nets.densenet import build_densenet_backbone, densenet_features

__all__ = ["build_densenet_backbone", "densenet_features"]
