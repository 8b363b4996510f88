# Solution to exercise 3 of 01_effective_weights: the parameters of a BatchEnsemble layer.
def batchensemble_parameters(n_in: int, n_out: int, num_members: int, use_bias: bool = True):
    shared = n_in * n_out  # W, stored once
    per_member = n_in + n_out + (n_out if use_bias else 0)  # r_i, s_i and the bias b_i
    return shared + num_members * per_member
