"""Benchmarks for bel: ``make bench`` prints one ``name: value`` line per figure."""
