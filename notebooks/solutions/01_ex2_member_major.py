# Solution to exercise 2 of 01_effective_weights: from an interleaved batch to member-major.
# ruff: noqa: F821 (E comes from the notebook)
# Row t of x_interleaved holds example t // E: view it as [B, E, features], put the member axis
# first and flatten again. Block k then holds examples 0, 1, ..., B-1, like bel.tile(x, E).
def to_member_major(x_interleaved):
    batch = x_interleaved.shape[0] // E
    return (
        x_interleaved.reshape(batch, E, -1)  # [B, E, features]
        .transpose(1, 0, 2)  # [E, B, features]
        .reshape(E * batch, -1)  # [E*B, features]
    )
