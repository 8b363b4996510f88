# Solution to exercise 2 of 03_diversity_explorer: the mutual information goes up.
# Members that start close (std 0.25) are all unsure at initialisation, so the entropy of their
# mean is hardly larger than their own entropies: the mutual information is near 0. Training
# makes every member confident; where confident members still draw the boundary differently,
# their mean is unsure while each member is not, and that difference is the mutual information.
# Disagreement, by contrast, mostly falls, because training makes the members agree on most of
# the plane (section 4 of the notebook).
mutual_information_goes = "up"
