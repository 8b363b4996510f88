# Solution to exercise 2 of 06_digits_under_shift: ECE under a 2-pixel translation.
# ruff: noqa: F821 (np, metrics, block, logits, digits, MODELS, SEEDS come from the notebook)
translated_ece = {
    name: np.mean(
        [float(metrics.ece(block(logits[name, s], "translate", 2.0), digits.y_test)) for s in SEEDS]
    )
    for name in MODELS
}
best_calibrated = min(translated_ece, key=translated_ece.get)
print({name: round(float(value), 3) for name, value in translated_ece.items()}, best_calibrated)

# What to look at: whether the ranking matches the ones under rotation and noise. A ranking that
# changes from one kind of shift to the next is why Ovadia et al. test several kinds of shift.
