"""Plots of weights (being written)."""

__all__: list[str] = []
