# Solution to exercise 3 of 03_diversity_explorer: random signs on the regression with a gap.
# Random-sign factors give members whose effective weights are nearly unrelated (cosine about 0).
# After training they all pass through the data, so they agree there, but nothing ties them
# together in the gap and beyond -1 and 1, where they keep going their own ways. How far apart
# they end up depends on the draw: with 4 members, seed 2 is one of the seeds for which the
# spread off the data passes 20 times the spread on it (the check prints the ratio); several
# other seeds, and init="normal" with seeds 0 to 3, stay below that.
exercise_3 = {"init": "random_sign", "r_std": 0.5, "s_std": 0.5, "seed": 2}
