# Solution to exercise 2 of 04_sharding_members: bytes on one device, counted from the shapes.
# ruff: noqa: F821  (E comes from the notebook)
def predicted_bytes(n: int) -> int:
    kernels = 2 * 32 + 32 * 32 + 32 * 2  # every W, whole, on every device
    per_member = (2 + 32 + 32) + (32 + 32 + 32) + (32 + 2 + 2)  # r, s, bias of the 3 layers
    return 4 * (kernels + (E // n) * per_member)  # float32: 4 bytes per number
