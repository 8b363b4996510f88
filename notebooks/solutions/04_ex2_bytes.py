# Solution to exercise 2 of 04_sharding_members: bytes on one device, counted from the shapes.
def predicted_bytes(m: int) -> dict[str, int]:
    layers = [(2, 32), (32, 32), (32, 2)]  # (d_in, d_out) of the three Linear layers
    kernels = sum(d_in * d_out for d_in, d_out in layers)  # every W, whole, on every device
    fast = sum(d_in + 2 * d_out for d_in, d_out in layers)  # one member's r, s and bias
    biases = sum(d_out for _, d_out in layers)
    return {
        "BatchEnsemble": 4 * (kernels + m * fast),  # float32: 4 bytes per number
        "naive": 4 * m * (kernels + biases),  # m whole networks
    }
