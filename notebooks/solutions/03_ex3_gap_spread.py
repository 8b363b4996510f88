# Solution to exercise 3 of 03_diversity_explorer: random signs on the regression with a gap.
# Random-sign factors give members whose effective weights are nearly unrelated (cosine about 0).
# After training they all pass through the data, so they agree there, but nothing ties them
# together in the gap and beyond -1 and 1, where they keep going their own ways: with seed 0 and
# 4 members the spread off the data is well over 10 times the spread on it (the check prints the
# ratio). With init="normal" the ratio stays below 10 for this seed.
exercise_3 = {"init": "random_sign", "r_std": 0.5, "s_std": 0.5, "seed": 0}
