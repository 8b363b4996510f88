"""Ensemble metrics (placeholder until written)."""
