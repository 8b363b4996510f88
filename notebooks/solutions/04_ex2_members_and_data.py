# Solution to exercise 2 of 04_sharding_members: 4 members x 2 data shards on 8 devices.
# ruff: noqa: F821  (jax, bel, shard_batch and x come from the notebook)
mesh_2d = jax.make_mesh((4, 2), ("members", "data"))

# Rows are split over members first, then each member's block over "data": device (m, d) gets
# the d-th half of member m's rows.
x_2d = shard_batch(bel.tile(x, 4), mesh_2d, axis=("members", "data"))
