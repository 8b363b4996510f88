# Solution to exercise 2 of 02_batchensemble_vs_naive: where BatchEnsemble approaches 1/E.
# ruff: noqa: F821 (bel, compare, nnx and E come from the notebook)
def parameters(convert, width):
    """Parameters of convert(mlp 2 -> width -> width -> 2, E), from the shapes alone."""

    def build():
        return convert(bel.mlp(2, 2, hidden=(width, width), rngs=0), E, rngs=1)

    return compare.parameter_count(nnx.eval_shape(build))


for width in [16, 32, 64, 128, 256, 512]:
    ratio = parameters(bel.batchensemble, width) / parameters(bel.naive_ensemble, width)
    print(f"H = {width:3d}: BatchEnsemble / naive = {ratio:.1%}")

smallest_width = 128  # 33% at H = 64, 29% at H = 128: the W's (H² per hidden layer) take over
