# Solution to exercise 2 of 03_diversity_explorer: identical members stay identical.
# Full-batch training gives every member the same data and, since the members are identical,
# the same gradient for r_i, s_i and b_i at every step (and the shared W gets one gradient for
# all). Identical members therefore take identical steps forever: the ensemble stays an ensemble
# of one. Diversity has to be put in by the initialisation (or by noise, e.g. different
# mini-batches per member).
they_become_different = False
