# Solution to exercise 1 of 02_batchensemble_vs_naive: BatchEnsemble's parameter count by hand.
def batchensemble_parameters(sizes, members):
    """Parameters of bel.batchensemble(an MLP with layer sizes `sizes`, members)."""
    total = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        total += n_in * n_out  # the shared W, stored once
        total += members * (n_in + n_out)  # every member's r_i and s_i
        total += members * n_out  # every member's own bias
    return total


# A naive ensemble stores members * (n_in * n_out + n_out) per layer instead. The shared W is the
# only term that does not grow with the number of members.
print(batchensemble_parameters([2, 32, 32, 2], 4))  # 1944, as measured in the notebook
