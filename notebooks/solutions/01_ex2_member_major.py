# Solution to exercise 2 of 01_effective_weights: from an interleaved batch to member-major.
# ruff: noqa: F821 (x_interleaved, B and E come from the notebook)
# Row t of x_interleaved holds example t // E: view it as [B, E, features], put the member axis
# first and flatten again. Block k then holds examples 0, 1, ..., B-1, like bel.tile(x, E).
x_member_major = (
    x_interleaved.reshape(B, E, -1)  # [B, E, 6]
    .transpose(1, 0, 2)  # [E, B, 6]
    .reshape(E * B, -1)  # [E*B, 6]
)
