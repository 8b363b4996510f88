"""Plots of predictions (being written)."""

__all__: list[str] = []
