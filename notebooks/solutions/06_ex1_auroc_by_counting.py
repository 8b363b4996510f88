# Solution to exercise 1 of 06_digits_under_shift: AUROC by counting every pair, ties count 1/2.
def auroc_by_counting(negatives, positives):
    """P(a positive outscores a negative), ties counting 1/2, by counting every pair."""
    wins = 0.0
    for s_neg in negatives:
        for s_pos in positives:
            wins += 1.0 if s_pos > s_neg else 0.5 if s_pos == s_neg else 0.0
    return wins / (len(negatives) * len(positives))


# Why 1/2: a tie is a coin flip for a detector that must rank the two inputs. Counting ties as 0
# would make a constant score (which knows nothing) look worse than chance instead of exactly 0.5.
# bel.metrics.auroc gets the same number in O(N log N) with a sort and two binary searches.
