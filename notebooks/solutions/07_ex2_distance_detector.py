# Solution to exercise 2 of 07_what_batchensemble_buys: the distance to the data as a detector.
# ruff: noqa: F821 (metrics, distance, OTHER come from the notebook)
distance_auroc = {k: float(metrics.auroc(distance["test"], distance[k])) for k in OTHER}
print({k: round(v, 3) for k, v in distance_auroc.items()})

# The distance needs no model at all. Compare it, set by set, with the models' AUROCs in section
# 2: it flags the brightened digits, which make every model more confident, and on these small
# 8x8 images it is a strong detector everywhere. It says nothing about which class an input is;
# in practice the two are complementary: a classifier's uncertainty for inputs near the data,
# a check of the distance for inputs unlike any training input.
