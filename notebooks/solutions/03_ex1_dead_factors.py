# Solution to exercise 1 of 03_diversity_explorer: members that agree although their s differ.
# Member i's effective weight is W ∘ (r_i s_iᵀ). With r_i = 0 for every member (r_mean = 0 and
# r_std = 0) it is 0 in every layer, whatever s_i is, so every member outputs its bias, and all
# biases start at 0: the members agree everywhere (all of them are "dead" at initialisation).
exercise_1 = {"r_mean": 0.0, "r_std": 0.0}
