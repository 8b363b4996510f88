"""Tests for bel/sharding.py: members spread over (simulated) devices give the same numbers.

The main pytest process has one CPU device, so everything that needs several devices runs in one
subprocess started with ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (the flag must be set
before jax is imported). That subprocess is this file run as a script: it executes every ``case_*``
function below and reports, per case, "ok" or the traceback; one pytest test per case reads its
result. Error messages that need no second device are tested directly in the main process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.sharding import AxisType, NamedSharding

import bel
from bel.sharding import collective_bytes, collectives, device_bytes, shard_batch, shard_members

DEVICES = 4

# ------------------------------------------------------------------------------------------------
# helpers (used in the subprocess)


def be_model(num_members: int, seed: int, sizes=(3, 8, 5, 2)) -> nnx.Module:
    """A BatchEnsemble MLP with random (non-zero) biases, so that bias mistakes show."""
    model = bel.batchensemble(
        bel.mlp(sizes[0], sizes[-1], hidden=sizes[1:-1], rngs=seed), num_members, rngs=seed + 1
    )
    for i, layer in enumerate(model.layers[::2]):
        layer.bias[...] = normal(seed * 100 + i, layer.bias.shape)
    return model


def normal(seed: int, shape: tuple[int, ...]) -> jax.Array:
    """Standard normal values drawn by NumPy (a JAX draw compiles anew for every shape)."""
    return jax.device_put(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def meshes(shape=(DEVICES,), names=("members",)):
    """The same mesh in JAX's two global-view modes: explicit (the default) and auto."""
    return {
        "explicit": jax.make_mesh(shape, names),
        "auto": jax.make_mesh(shape, names, axis_types=(AxisType.Auto,) * len(shape)),
    }


def forward(model, x):
    return nnx.jit(lambda m, x: m(x))(model, x)


def loss_and_grads(model, x, t):
    return nnx.jit(nnx.value_and_grad(lambda m: jnp.mean((m(x) - t) ** 2)))(model)


def assert_close(a, b, what, atol=1e-5):
    err = float(np.max(np.abs(np.asarray(a) - np.asarray(b))))  # NumPy: nothing to compile
    assert err <= atol, f"{what}: max |sharded - unsharded| = {err:.3g} > {atol}"


def assert_rows_spread(array, mesh_size, what):
    """Each of the mesh_size devices holds its own contiguous block of rows, and nothing else."""
    shards = array.addressable_shards
    devices = {s.device for s in shards}
    assert len(devices) == mesh_size, f"{what}: on {len(devices)} devices, expected {mesh_size}"
    rows = array.shape[0] // mesh_size
    starts = sorted(s.index[0].start or 0 for s in shards)
    assert starts == [k * rows for k in range(mesh_size)], f"{what}: row blocks start at {starts}"
    for s in shards:
        assert s.data.shape == (rows,) + array.shape[1:], f"{what}: shard shape {s.data.shape}"
        block = np.asarray(array)[s.index]
        np.testing.assert_array_equal(np.asarray(s.data), block, err_msg=what)


def assert_replicated(array, mesh_size, what):
    shards = array.addressable_shards
    assert array.sharding.is_fully_replicated, f"{what}: not replicated ({array.sharding})"
    assert len({s.device for s in shards}) == mesh_size, f"{what}: not on every device"
    for s in shards:
        assert s.data.shape == array.shape, f"{what}: a shard has shape {s.data.shape}"


# ------------------------------------------------------------------------------------------------
# cases (run in the subprocess, with DEVICES devices)


def case_forward_matches_unsharded_on_random_shapes():
    rng = np.random.default_rng(0)
    for trial in range(6):
        num_members = DEVICES * int(rng.integers(1, 3))  # 1 or 2 members per device
        rows = int(rng.integers(1, 5))
        extra = tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(0, 2))))
        sizes = tuple(int(n) for n in rng.integers(1, 9, size=3))
        for mode, mesh in meshes().items():
            what = f"trial {trial} ({mode}, E={num_members}, B={rows}, extra={extra}, {sizes})"
            reference = be_model(num_members, trial, sizes)
            model = shard_members(be_model(num_members, trial, sizes), mesh)
            x = normal(trial, (num_members * rows,) + extra + (sizes[0],))
            expected = forward(reference, x)
            y = forward(model, shard_batch(x, mesh))
            assert_close(y, expected, what)
            assert y.sharding.spec[0] == "members", f"{what}: output sharding {y.sharding}"
            assert_rows_spread(y, DEVICES, f"{what}: output")


def case_member_params_sharded_kernel_replicated():
    for mode, mesh in meshes().items():
        reference = be_model(8, 3)
        model = shard_members(be_model(8, 3), mesh)
        for i, (layer, ref) in enumerate(
            zip(model.layers[::2], reference.layers[::2], strict=True)
        ):
            for name in ("r", "s", "bias"):
                array = getattr(layer, name).get_value()
                what = f"{mode}: layer {i} {name}"
                np.testing.assert_array_equal(array, getattr(ref, name).get_value(), err_msg=what)
                assert array.sharding.spec[0] == "members", f"{what}: {array.sharding}"
                assert_rows_spread(array, DEVICES, what)
                assert array.addressable_shards[0].data.shape[0] == 8 // DEVICES
            assert_replicated(layer.kernel.get_value(), DEVICES, f"{mode}: layer {i} kernel")
        assert jax.tree.structure(nnx.state(model)) == jax.tree.structure(nnx.state(reference))


def case_gradients_match_unsharded():
    for mode, mesh in meshes().items():
        reference = be_model(4, 5)
        model = shard_members(be_model(4, 5), mesh)
        x = normal(1, (4 * 6, 3))
        t = normal(2, (4 * 6, 2))
        loss0, grads0 = loss_and_grads(reference, x, t)
        loss1, grads1 = loss_and_grads(model, shard_batch(x, mesh), shard_batch(t, mesh))
        assert_close(loss1, loss0, f"{mode}: loss")
        flat0, flat1 = nnx.to_flat_state(grads0), nnx.to_flat_state(grads1)
        assert [k for k, _ in flat0] == [k for k, _ in flat1]
        for (path, g0), (_, g1) in zip(flat0, flat1, strict=True):
            assert_close(g1.get_value(), g0.get_value(), f"{mode}: gradient {path}")
        r_grad = grads1["layers"][0]["r"].get_value()
        assert len({s.device for s in r_grad.addressable_shards}) == DEVICES


def case_training_with_fit_matches_unsharded():
    x, y = bel.data.two_moons(64, seed=0)
    reference = be_model(4, 7, (2, 16, 2))
    losses0 = bel.fit(reference, x, y, steps=30, learning_rate=1e-2)
    mesh = jax.make_mesh((DEVICES,), ("members",))
    model = shard_members(be_model(4, 7, (2, 16, 2)), mesh)
    with jax.set_mesh(mesh):
        losses1 = bel.fit(model, x, y, steps=30, learning_rate=1e-2)
    assert_close(losses1, losses0, "fit losses", atol=1e-5)
    assert_close(model.layers[0].r.get_value(), reference.layers[0].r.get_value(), "trained r")
    assert_rows_spread(model.layers[0].r.get_value(), DEVICES, "trained r")
    assert_replicated(model.layers[0].kernel.get_value(), DEVICES, "trained kernel")


def case_optimizer_step_matches_and_state_is_sharded():
    x, y = bel.data.two_moons(32, seed=1)
    for mode, mesh in meshes().items():
        out = {}
        for name, model in [
            ("one", be_model(4, 15, (2, 8, 2))),
            ("mesh", be_model(4, 15, (2, 8, 2))),
        ]:
            inputs, labels = bel.tile(x, 4), bel.tile(y, 4)
            if name == "mesh":
                model = shard_members(model, mesh)
                inputs, labels = shard_batch(inputs, mesh), shard_batch(labels, mesh)
            optimizer = nnx.Optimizer(model, bel.fast_weight_optimizer(model, 1e-2), wrt=nnx.Param)

            @nnx.jit
            def step(model, optimizer, inputs, labels):
                def loss(model):
                    logits = model(inputs)
                    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

                value, grads = nnx.value_and_grad(loss)(model)
                optimizer.update(model, grads)
                return value

            out[name] = (step(model, optimizer, inputs, labels), model, optimizer)
        assert_close(out["mesh"][0], out["one"][0], f"{mode}: loss")
        for (path, a), (_, b) in zip(
            nnx.to_flat_state(nnx.state(out["one"][1])),
            nnx.to_flat_state(nnx.state(out["mesh"][1])),
            strict=True,
        ):
            assert_close(b.get_value(), a.get_value(), f"{mode}: updated {path}")
        moments = [  # Adam's mu and nu for every member-axis parameter
            (path, v.get_value())
            for path, v in nnx.to_flat_state(nnx.state(out["mesh"][2]))
            if path[-1] in ("r", "s", "bias")
        ]
        assert len(moments) == 12, [path for path, _ in moments]  # 2 layers x 3 x (mu, nu)
        for path, value in moments:
            assert_rows_spread(value, DEVICES, f"{mode}: optimiser state {path}")


def case_forward_needs_no_communication_backward_one_sum():
    for mode, mesh in meshes().items():
        graphdef, state = nnx.split(shard_members(be_model(4, 9), mesh))
        x = shard_batch(jnp.ones((4 * 8, 3)), mesh)

        def fwd(state, x, graphdef=graphdef):
            return nnx.merge(graphdef, state)(x)

        def loss(state, x, graphdef=graphdef):
            return jnp.mean(fwd(state, x) ** 2)

        found = collectives(fwd, state, x)
        assert found == {}, f"{mode}: the forward pass communicates: {found}"
        found = collectives(jax.grad(loss), state, x)
        assert set(found) == {"all-reduce"}, f"{mode}: the backward pass has {found}"


def case_collective_bytes_is_the_shared_kernels_for_batchensemble_only():
    """BatchEnsemble sums W's gradients across devices; a naive ensemble only sums the loss."""
    mesh = jax.make_mesh((DEVICES,), ("members",))
    sizes = (3, 8, 5, 2)
    kernels = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    x = shard_batch(normal(0, (4 * 6, 3)), mesh)
    t = shard_batch(normal(1, (4 * 6, 2)), mesh)
    naive = bel.naive_ensemble(bel.mlp(3, 2, hidden=(8, 5), rngs=0), 4, rngs=1)
    for name, model, expected in [
        ("BatchEnsemble", be_model(4, 17, sizes), 4 * kernels + 4),  # W gradients + the loss
        ("naive", naive, 4),  # the loss only
    ]:
        graphdef, state = nnx.split(shard_members(model, mesh))

        def fwd(state, x, graphdef=graphdef):
            return nnx.merge(graphdef, state)(x)

        def loss(state, x, t, graphdef=graphdef):
            return jnp.mean((fwd(state, x) - t) ** 2)

        assert collective_bytes(fwd, state, x) == {}, name
        found = collective_bytes(jax.value_and_grad(loss), state, x, t)
        assert found == {"all-reduce": expected}, f"{name}: {found}, expected {expected} bytes"


def case_members_and_data_mesh():
    """4 devices as 2 (members) x 2 (data): one member per members-slice, its rows split in two."""
    for mode, mesh in meshes((2, 2), ("members", "data")).items():
        reference = be_model(2, 11)
        model = shard_members(be_model(2, 11), mesh)
        r = model.layers[0].r.get_value()
        assert [s.data.shape for s in r.addressable_shards] == [(1, 3)] * 4, mode
        x = normal(3, (2 * 6, 3))
        xs = shard_batch(x, mesh, ("members", "data"))
        assert [s.data.shape for s in xs.addressable_shards] == [(3, 3)] * 4, mode
        y = forward(model, xs)
        assert_close(y, forward(reference, x), f"{mode}: members x data forward")
        assert_rows_spread(y, 4, f"{mode}: members x data output")


def case_naive_ensemble_kernels_sharded():
    mesh = jax.make_mesh((DEVICES,), ("members",))
    base = bel.mlp(3, 2, hidden=(8,), rngs=0)
    reference = bel.naive_ensemble(bel.mlp(3, 2, hidden=(8,), rngs=0), 4, rngs=1)
    model = shard_members(bel.naive_ensemble(base, 4, rngs=1), mesh)
    kernel = model.layers[0].kernel.get_value()
    assert [s.data.shape for s in kernel.addressable_shards] == [(1, 3, 8)] * DEVICES
    x = normal(4, (4 * 5, 3))
    assert_close(forward(model, shard_batch(x, mesh)), forward(reference, x), "naive forward")


def case_convolutional_members_shard_like_linear_ones():
    def pool(x):
        return x.mean(axis=(1, 2))

    def cnn():
        rngs = nnx.Rngs(0)
        return nnx.Sequential(
            nnx.Conv(2, 3, (3, 3), rngs=rngs), nnx.relu, pool, nnx.Linear(3, 2, rngs=rngs)
        )

    mesh = jax.make_mesh((DEVICES,), ("members",))
    x = normal(5, (8 * 2, 5, 5, 2))
    reference = bel.batchensemble(cnn(), 8, rngs=1)
    model = shard_members(bel.batchensemble(cnn(), 8, rngs=1), mesh)
    for name in ("r", "s", "bias"):
        assert_rows_spread(getattr(model.layers[0], name).get_value(), DEVICES, f"conv {name}")
    assert_replicated(model.layers[0].kernel.get_value(), DEVICES, "conv kernel")
    y = forward(model, shard_batch(x, mesh))
    assert_close(y, forward(reference, x), "conv forward")
    assert_rows_spread(y, DEVICES, "conv output")


def case_device_bytes_counts_shards():
    mesh = jax.make_mesh((DEVICES,), ("members",))
    model = shard_members(be_model(8, 13, (3, 8, 2)), mesh)
    held = device_bytes(model)
    per_member = (3 + 8 + 8) + (8 + 2 + 2)  # r, s, bias of both layers
    expected = 4 * (3 * 8 + 8 * 2 + (8 // DEVICES) * per_member)
    assert held == {d: expected for d in range(DEVICES)}, held


def case_device_bytes_of_an_abstract_model_equals_the_real_one():
    mesh = jax.make_mesh((DEVICES,), ("members",))
    for name, convert in [("BatchEnsemble", bel.batchensemble), ("naive", bel.naive_ensemble)]:

        def make(convert=convert):
            return convert(bel.mlp(3, 2, hidden=(8, 5), rngs=0), 8, rngs=1)

        real = device_bytes(shard_members(make(), mesh))
        abstract = nnx.eval_shape(lambda make=make: shard_members(make(), mesh))
        leaf = jax.tree.leaves(nnx.state(abstract))[0]
        assert isinstance(leaf, jax.ShapeDtypeStruct), f"{name}: {type(leaf)}"
        found = device_bytes(abstract)
        assert found == {k: v for k, v in enumerate(real.values())}, f"{name}: {found} vs {real}"


def case_indivisible_members_error_moves_nothing():
    mesh = jax.make_mesh((DEVICES,), ("members",))
    model = nnx.Sequential(
        bel.BatchEnsembleLinear(nnx.Linear(3, 4, rngs=nnx.Rngs(0)), 1, num_members=4),
        bel.BatchEnsembleLinear(nnx.Linear(4, 2, rngs=nnx.Rngs(0)), 2, num_members=6),
    )
    try:
        shard_members(model, mesh)
    except ValueError as e:
        message = str(e)
        assert "num_members=6" in message and "size 4" in message and "layers/1" in message, message
    else:
        raise AssertionError("num_members=6 over 4 devices did not raise")
    r = model.layers[0].r.get_value()
    assert len(r.devices()) == 1, "a failed shard_members call moved the first layer anyway"
    try:
        shard_batch(jnp.ones((6, 3)), mesh)
    except ValueError as e:
        assert "(6, 3)" in str(e) and "size 4" in str(e), str(e)
    else:
        raise AssertionError("shard_batch with 6 rows over 4 devices did not raise")


def _run_cases() -> dict[str, str]:
    results = {}
    for name, case in sorted(globals().items()):
        if name.startswith("case_"):
            try:
                case()
                results[name] = "ok"
            except Exception:  # noqa: BLE001 - reported to the pytest process
                results[name] = traceback.format_exc()
    return results


# ------------------------------------------------------------------------------------------------
# the pytest side

CASES = sorted(name for name in dir() if name.startswith("case_"))


@pytest.fixture(scope="module")
def results() -> dict[str, str]:
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={DEVICES}"
    env = dict(os.environ, XLA_FLAGS=flags.strip())
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, __file__],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=600,
    )
    assert out.returncode == 0, f"sharding subprocess failed:\n{out.stdout}\n{out.stderr}"
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", CASES)
def test_with_simulated_devices(results, case):
    assert results.get(case) == "ok", results.get(case, f"{case} did not run")


def test_subprocess_really_has_devices(results):
    assert results["devices"] == str(DEVICES), results["devices"]


def test_bad_mesh_and_axis():
    model = be_model(4, 0)
    with pytest.raises(ValueError, match="jax.sharding.Mesh.*got tuple"):
        shard_members(model, (4,))
    mesh = jax.make_mesh((1,), ("members",))
    with pytest.raises(ValueError, match=r"axis 'ensemble' is not an axis.*\('members',\)"):
        shard_members(model, mesh, axis="ensemble")
    with pytest.raises(ValueError, match=r"axis 'data' is not an axis"):
        shard_batch(jnp.ones((4, 3)), mesh, ("members", "data"))


def test_model_without_ensemble_layers():
    mesh = jax.make_mesh((1,), ("members",))
    with pytest.raises(ValueError, match="at least one BatchEnsembleLinear.*Sequential with none"):
        shard_members(bel.mlp(2, 2, rngs=0), mesh)


def test_device_bytes_refuses_unsharded_abstract_leaves_and_mixtures():
    abstract = jax.ShapeDtypeStruct((3, 4), jnp.float32)
    with pytest.raises(ValueError, match=r"NamedSharding.*shape \(3, 4\)"):
        device_bytes({"W": abstract})
    mesh = jax.make_mesh((1,), ("members",))
    placed = jax.ShapeDtypeStruct((3, 4), jnp.float32, sharding=NamedSharding(mesh, jax.P()))
    assert device_bytes({"W": placed}) == {0: 48}
    with pytest.raises(ValueError, match="mixes both"):
        device_bytes({"W": placed, "b": jnp.ones(3)})


def test_type_bytes_reads_hlo_result_types():
    from bel.sharding import _type_bytes

    assert _type_bytes("(f32[], f32[32,2]{1,0}, bf16[3,4]{1,0})") == 4 + 4 * 64 + 2 * 12
    assert _type_bytes("s8[5]") == 5
    with pytest.raises(ValueError, match="unknown XLA element type 'f8e4m3'"):
        _type_bytes("f8e4m3[2]")
    assert collective_bytes(lambda x: 2 * x, jnp.ones(3)) == {}


def test_one_device_mesh_changes_nothing():
    mesh = jax.make_mesh((1,), ("members",))
    x = normal(0, (4 * 3, 3))
    expected = be_model(4, 1)(x)
    model = shard_members(be_model(4, 1), mesh)
    np.testing.assert_allclose(model(shard_batch(x, mesh)), expected, atol=1e-6)
    assert isinstance(model.layers[0].r.get_value().sharding, NamedSharding)


if __name__ == "__main__":
    found = _run_cases()
    found["devices"] = str(len(jax.devices()))
    print(json.dumps(found))
