# Solution to exercise 3 of 06_digits_under_shift: the seeds' single networks as one "ensemble".
# ruff: noqa: F821 (np, metrics, block, logits, digits, SEEDS come from the notebook)
singles = np.concatenate([block(logits["single", s], "rotate", 0.0) for s in SEEDS])  # [S, N, C]
singles_disagreement = float(metrics.pairwise_disagreement(singles))
singles_normalized = float(metrics.normalized_disagreement(singles, digits.y_test))
print(f"disagreement {singles_disagreement:.3f}, per error rate {singles_normalized:.2f}")

# Independently trained networks are the reference for "different models". Compare their
# disagreement per error with the BatchEnsemble members' (table above): a ratio near theirs means
# the members differ about as much as separate models; a ratio near 0 means copies.
