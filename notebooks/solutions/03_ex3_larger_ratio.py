# Solution to exercise 3 of 03_diversity_explorer: random signs spread more off the data.
# Random-sign factors give members whose effective weights are nearly unrelated (cosine about 0,
# section 2), while N(1, 0.5²) members are W rescaled by factors near 1 (cosine about 0.6). After
# training every member passes through the data, so both kinds agree there; off the data nothing
# ties the members together, and members that started nearly unrelated extrapolate more
# differently. The check counts the seeds: random signs have the larger ratio in most of them,
# not in every one (a single seed can go the other way, which is why it looks at five).
larger_ratio = "random_sign"
