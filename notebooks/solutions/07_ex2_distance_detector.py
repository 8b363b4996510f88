# Solution to exercise 2 of 07_what_batchensemble_buys: the distance to the data as a detector.
# ruff: noqa: F821 (metrics, distance, OTHER come from the notebook)
distance_auroc = {k: float(metrics.auroc(distance["test"], distance[k])) for k in OTHER}
print({k: round(v, 3) for k, v in distance_auroc.items()})

# The distance needs no model and separates the far sets (and the brightened digits, which make
# every model more confident) almost perfectly; on near sets such as the unseen digits it is
# weaker than the models, which know which features matter for the classes.
