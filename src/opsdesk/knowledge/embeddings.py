"""Sentence embeddings for the ``ai`` extra: a small static model shipped inside a PyPI wheel
(``tokenlearn-static-model``: 10k-word vocabulary, 64 dimensions, int8), loaded from the
installed package, never downloaded. Without the extra, suggestions stay lexical."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from functools import cache
from typing import Protocol, cast


class Embedder(Protocol):
    """Turns texts into vectors of one dimension."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class StaticModelEmbedder:
    """The ``static_model`` package's encoder (Rust; about 1 ms for 60 short texts)."""

    name = "tokenlearn-static-model"

    def __init__(self, encode: Callable[[list[str]], list[list[float]]]) -> None:
        self._encode = encode

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._encode([text[:2000] for text in texts])


@cache
def installed_embedder() -> StaticModelEmbedder | None:
    """The bundled model if the ``ai`` extra is installed, else None (loaded once)."""
    try:
        module = importlib.import_module("static_model")
    except ImportError:
        return None
    encode = cast(Callable[[list[str]], list[list[float]]], module.get_embeddings)
    embedder = StaticModelEmbedder(encode)
    embedder.embed(["warm up"])  # loads the weights now, not in the first request
    return embedder


def cosine(left: Sequence[float], right: Sequence[float]) -> float:
    dot = sum(a * b for a, b in zip(left, right, strict=False))
    norm = math.sqrt(sum(a * a for a in left)) * math.sqrt(sum(b * b for b in right))
    return dot / norm if norm else 0.0


def embedder_for(enabled: bool) -> Embedder | None:
    """The embedder to fuse in: the installed model when ``enabled`` (a setting), else None."""
    return installed_embedder() if enabled else None
