# Solution to exercise 3 of 03_diversity_explorer: random signs on the regression with a gap.
# With init="normal" (std 0.5) the trained spread off the data is about 9 times the spread on the
# data; random-sign factors give members that are nearly unrelated in weight space (cosine
# similarity about 0), and after training they agree on the data but differ more in the gap and
# beyond: about 16 times (seed 0, 4 members, 300 steps).
exercise_3 = {"init": "random_sign", "r_std": 0.5, "s_std": 0.5, "seed": 0}
