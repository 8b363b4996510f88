# Solution to exercise 1 of 03_diversity_explorer: members agree everywhere, their weights differ.
# Keep s identical for every member (s_std = 0) and let only r vary (r_std = 0.5). The effective
# weights W ∘ (r_i s_iᵀ) then differ (cosine about 0.8 in layer 2), but at initialisation, with
# seed 0, every member leans the same way on the whole plane: each one calls every grid point
# class 1, some more surely than others. Members that all pick the same class everywhere agree
# trivially, so the disagreement is exactly 0 although the members are different functions (their
# mutual information is not 0). Disagreement looks only at which class wins: it cannot see how
# sure the members are (mutual information and the spread can), and it says nothing about weights.
# Other seeds need other settings: the panel's member maps show when every member is one colour.
exercise_1 = {"r_mean": 1.0, "r_std": 0.5, "s_mean": 1.0, "s_std": 0.0, "seed": 0}
