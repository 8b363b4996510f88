# Solution to exercise 1 of 07_what_batchensemble_buys: is it the distance?
# ruff: noqa: F821 (np, bel, metrics, translated, digits, tau, models, SEEDS come from the notebook)
my_prediction = "more"  # written first: a 2-pixel shift keeps the strokes, so the set is near
translated_distance = float(np.median(metrics.nearest_distance(translated, digits.x_train)) / tau)
translated_mi = {
    name: [
        float(np.mean(metrics.mutual_information(bel.predict(models[name, seed], translated))))
        for seed in SEEDS
    ]
    for name in ("BatchEnsemble", "naive")
}
print(f"{translated_distance:.1f} τ from the data")

# Compare with section 2: where does this set sit on the distance axis, and does the verdict
# match that of the other sets at the same distance? The check prints the measured verdict.
