# Solution to exercise 3 of 07_what_batchensemble_buys: how many TabM members do you need?
# ruff: noqa: F821 (np, metrics, logits, SETS, SEEDS, N come from the notebook)
UNSEEN = list(SETS).index("unseen digits")


def pruned_auroc(k):
    """Mean over the seeds of the unseen-digit AUROC of the first k TabM-style members."""
    values = []
    for seed in SEEDS:
        entropy = np.asarray(metrics.predictive_entropy(logits["TabM-style", seed][:k]))
        values.append(float(metrics.auroc(entropy[:N], entropy[UNSEEN * N : (UNSEEN + 1) * N])))
    return float(np.mean(values))


aurocs = {k: pruned_auroc(k) for k in (1, 2, 4, 8, 16)}
smallest_k = min(k for k, v in aurocs.items() if v >= aurocs[16] - 0.01)
print({k: round(v, 3) for k, v in aurocs.items()}, "smallest k:", smallest_k)
