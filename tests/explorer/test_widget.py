"""bel.explorer.widget: the panel, driven headless by assigning control values (as sliders do)."""

from __future__ import annotations

import base64
import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

import bel
from bel.explorer import model, widget
from bel.explorer.model import Settings
from bel.explorer.widget import CONTROLS, SWITCH_WAIT, DiversityExplorer

from support import compiled


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def changed(before: bytes, after: bytes, tolerance: int = 8) -> float:
    """Share of pixels that differ by more than ``tolerance`` between two PNGs of the same size."""
    a, b = pixels(before), pixels(after)
    assert a.shape == b.shape
    return float((np.abs(a - b).max(axis=2) > tolerance).mean())


def healthy(explorer: DiversityExplorer) -> None:
    """The panel shows a picture and no error (a short message would be fine, a traceback not)."""
    assert explorer.png.startswith(b"\x89PNG") and explorer.image.value == explorer.png
    assert "Could not" not in explorer.status.value and "Traceback" not in explorer.status.value


DEFAULTS = {"task": "moons", "members": 4, "init": "normal", "seed": 0, "r_mean": 1.0,
            "r_std": 0.5, "s_mean": 1.0, "s_std": 0.5, "use_base_weights": True, "layer": 1,
            "steps": 300, "view": "init"}  # fmt: skip


@pytest.fixture(autouse=True)
def _join_warm_ups():
    """Every explorer's background warm-up has ended when its test ends (none leaks into the
    next test, and an exception in one would fail this test)."""
    yield
    for thread in threading.enumerate():
        if thread.name == "bel-explorer-warm-up":
            thread.join(timeout=300)
            assert not thread.is_alive(), "an explorer's warm-up did not end"


@pytest.fixture(scope="module")
def shared() -> DiversityExplorer:
    """One panel for the tests of this module that only drive it (building one costs seconds)."""
    explorer = DiversityExplorer()
    assert explorer.wait_ready(timeout=300)
    return explorer


@pytest.fixture
def explorer(shared) -> DiversityExplorer:
    """The shared panel, brought back to the state of a new ``DiversityExplorer()``."""
    shared._recent.clear()  # nothing built by an earlier test is reused
    c = shared.controls
    c["seed"].value = 1  # a new setting drops any training, even one of the default settings
    for name, value in DEFAULTS.items():
        c[name].value = value
    assert shared.settings == Settings() and not shared.trained and shared.task.name == "moons"
    assert "ready" in shared.status.value
    return shared


def test_the_panel_has_every_control_a_figure_and_a_widget(explorer):
    assert tuple(explorer.controls) == CONTROLS
    assert explorer.controls["members"].min == 1 and explorer.controls["members"].max >= 8
    assert set(explorer.controls["init"].options) == {"normal", "random_sign"}
    assert explorer.figure.axes and explorer.widget.children
    healthy(explorer)
    assert "ready" in explorer.status.value


def test_display_shows_the_panel_with_the_picture_as_fallback(explorer):
    bundle = explorer._repr_mimebundle_()
    view = bundle["application/vnd.jupyter.widget-view+json"]
    assert view["model_id"] == explorer.widget.model_id
    assert base64.b64decode(bundle["image/png"]) == explorer.png
    assert bundle["text/plain"].startswith("DiversityExplorer: E = 4")
    assert "E = 4" in repr(explorer)


def test_std_zero_normal_gives_identical_members_and_no_disagreement(explorer):
    c = explorer.controls
    c["r_std"].value = 0.0
    c["s_std"].value = 0.0
    healthy(explorer)
    numbers = explorer.numbers["init"]
    assert numbers["disagreement"] == 0.0
    assert numbers["mutual_information"] == pytest.approx(0.0, abs=1e-6)
    assert numbers["cosine"] == pytest.approx(1.0, abs=1e-5)
    heatmaps = [ax.images[0].get_array() for ax in explorer._figure.weight_axes[:4]]
    assert all(np.array_equal(heatmaps[0], h) for h in heatmaps[1:])
    maps = [image.get_array() for image in explorer._figure.tasks["moons"].member_images[:4]]
    assert all(np.array_equal(maps[0], m) for m in maps[1:])


def test_random_sign_gives_disagreement_and_disables_the_gaussian_sliders(explorer):
    c = explorer.controls
    c["r_std"].value = 0.0
    c["s_std"].value = 0.0
    before = explorer.png
    c["init"].value = "random_sign"
    healthy(explorer)
    assert explorer.numbers["init"]["disagreement"] > 0.05
    assert explorer.numbers["init"]["cosine"] < 0.9
    assert changed(before, explorer.png) > 0.02
    assert all(c[name].disabled for name in ("r_mean", "r_std", "s_mean", "s_std"))
    c["init"].value = "normal"
    assert not any(c[name].disabled for name in ("r_mean", "r_std", "s_mean", "s_std"))
    assert explorer.numbers["init"]["disagreement"] == 0.0


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("members", [1, 8, 3]),
        ("seed", [1, 7, 0]),
        ("r_mean", [0.0, -1.0, 2.0]),
        ("r_std", [0.0, 0.25, 1.5]),
        ("s_mean", [0.5, -2.0]),
        ("s_std", [0.0, 1.0]),
        ("use_base_weights", [False, True]),
        ("layer", [0, 2, 1]),
        ("init", ["random_sign", "normal"]),
        ("task", ["gap", "moons"]),
    ],
)
def test_every_control_redraws_the_figure_and_updates_the_numbers(explorer, name, values):
    control = explorer.controls[name]
    for value in values:
        before_png, before_numbers = explorer.png, explorer.numbers["init"]
        control.value = value
        healthy(explorer)
        assert changed(before_png, explorer.png) > 0.001, f"{name}={value!r}: figure unchanged"
        assert explorer.numbers["init"] != before_numbers, f"{name}={value!r}: same numbers"
    assert control.value == values[-1]


def test_members_slider_shows_exactly_that_many_members(explorer):
    figure = explorer._figure
    for members in (1, 8, 3):
        explorer.controls["members"].value = members
        visible = [ax.get_visible() for ax in figure.weight_axes]
        assert visible == [i < members for i in range(8)]
        assert [c.get_visible() for c in figure.covers] == [i >= members for i in range(8)
                                                             for _ in range(2)]  # fmt: skip
        assert f"E = {members}" in figure.title.get_text()
    slots = model.build(explorer.task, explorer.settings)
    assert explorer.numbers["init"] == model.evaluate(explorer.task, slots).numbers(3)


def test_one_member_has_no_pairs_to_disagree(explorer):
    explorer.controls["members"].value = 1
    healthy(explorer)
    assert explorer.numbers["init"]["disagreement"] == 0.0
    assert explorer.numbers["init"]["cosine"] == 1.0


def test_layer_choice_changes_only_the_heatmaps_and_their_cosine(explorer):
    ev = explorer._init
    for layer, shape in ((0, (2, 16)), (2, (16, 2)), (1, (16, 16))):
        explorer.controls["layer"].value = layer
        assert explorer._figure.weight_images[0].get_array().shape == shape
        assert explorer.numbers["init"]["cosine"] == ev.numbers(4, layer)["cosine"]
        assert explorer._init is ev  # nothing recomputed


def test_steps_control_sets_the_training_length(explorer):
    before = explorer.png
    explorer.controls["steps"].value = 100
    healthy(explorer)
    assert explorer.progress.max == 100 and explorer.png == before


def test_train_shows_progress_then_the_trained_state_and_both_sets_of_numbers(explorer):
    c = explorer.controls
    c["steps"].value = 150
    seen = []
    explorer.progress.observe(lambda change: seen.append(change["new"]), names="value")
    before = explorer.png
    c["train"].click()
    healthy(explorer)
    assert seen == [0, 50, 100, 150] or seen[-3:] == [50, 100, 150]
    assert explorer.progress.bar_style == "success" and "trained 150 steps" in explorer.status.value
    assert c["view"].value == "trained" and explorer.trained
    assert changed(before, explorer.png) > 0.02
    numbers = explorer.numbers
    assert numbers["trained"]["accuracy"] > 0.9 > numbers["init"]["accuracy"]
    assert "after 150 training steps" in explorer._figure.title.get_text()
    assert explorer._figure.trained_bars[0].get_visible()
    # back and forth between the two states, without recomputing anything
    trained_png = explorer.png
    c["view"].value = "init"
    assert "at initialisation" in explorer._figure.title.get_text()
    c["view"].value = "trained"
    assert changed(trained_png, explorer.png) == 0.0
    # a new setting makes the old training meaningless: it is dropped, the view returns to init
    c["seed"].value = 3
    assert not explorer.trained and explorer.numbers["trained"] is None
    assert c["view"].value == "init" and not explorer._figure.trained_bars[0].get_visible()


def test_identical_members_stay_identical_after_training(explorer):
    c = explorer.controls
    c["r_std"].value = 0.0
    c["s_std"].value = 0.0
    c["steps"].value = 100
    explorer.train()
    assert explorer.numbers["trained"]["disagreement"] == 0.0
    assert explorer.numbers["trained"]["accuracy"] > 0.9


def test_asking_for_the_trained_view_before_training_says_so(explorer):
    before = explorer.png
    explorer.controls["view"].value = "trained"
    assert "Not trained yet" in explorer.status.value
    assert "Could not" not in explorer.status.value
    assert "at initialisation" in explorer._figure.title.get_text()
    assert changed(before, explorer.png) == 0.0


def test_the_regression_task_trains_and_shrinks_the_spread_on_the_data(explorer):
    explorer.controls["task"].value = "gap"
    explorer.controls["steps"].value = 200
    explorer.train()
    healthy(explorer)
    init, trained = explorer.numbers["init"], explorer.numbers["trained"]
    assert trained["rmse"] < 0.2 < init["rmse"]
    assert trained["spread_data"] < init["spread_data"]
    assert trained["spread_off_data"] > trained["spread_data"]


def test_rapid_changes_end_showing_the_last_state(explorer):
    c = explorer.controls
    for value in (1, 8, 4, 3):
        c["members"].value = value
    for value in (0.1, 1.2, 0.0, 0.35):
        c["r_std"].value = value
    c["init"].value = "random_sign"
    c["init"].value = "normal"
    c["seed"].value = 11
    fresh = DiversityExplorer(members=3, r_std=0.35, seed=11)
    assert explorer.settings == fresh.settings
    assert explorer.numbers == fresh.numbers
    assert changed(explorer.png, fresh.png) == 0.0


def test_changes_from_several_threads_at_once_end_showing_the_last_state(explorer, monkeypatch):
    """ipykernel 7 may handle widget messages on another thread while one update still runs."""
    evaluate = model.evaluate

    def slow_evaluate(*args, **kwargs):
        time.sleep(0.15)  # widens the window in which a second update could interfere
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(model, "evaluate", slow_evaluate)
    c = explorer.controls
    changes = [("members", 3), ("init", "random_sign"), ("seed", 2), ("layer", 0), ("seed", 5)]
    threads = []
    for name, value in changes:
        threads.append(threading.Thread(target=setattr, args=(c[name], "value", value)))
        threads[-1].start()
        time.sleep(0.03)
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.undo()
    healthy(explorer)
    fresh = DiversityExplorer(members=3, init="random_sign", seed=5, layer=0)
    assert explorer.numbers == fresh.numbers
    assert changed(explorer.png, fresh.png) == 0.0
    assert explorer.report() == fresh.report()


@pytest.mark.parametrize("task", ["moons", "gap"])
@pytest.mark.parametrize("members", [1, 8])
def test_every_combination_shows_a_result_or_a_short_message(explorer, task, members):
    c = explorer.controls
    c["task"].value, c["members"].value = task, members
    for init in ("normal", "random_sign"):
        c["init"].value = init
        for r_mean, std, s_mean in ((0.0, 0.0, 0.0), (-2.0, 1.5, 2.0), (2.0, 1.5, 2.0)):
            c["r_mean"].value, c["r_std"].value = r_mean, std
            c["s_mean"].value, c["s_std"].value = s_mean, std
            healthy(explorer)
            assert len(explorer.status.value) < 300
    c["steps"].value = 50
    c["train"].click()
    healthy(explorer)
    assert explorer.trained


def test_an_error_inside_a_callback_becomes_a_message_and_the_panel_stays_usable(
    explorer, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure\nwith a second line")

    monkeypatch.setattr(model, "evaluate", broken)
    explorer.controls["seed"].value = 4  # must not raise
    assert "Could not update: RuntimeError: simulated failure" in explorer.status.value
    assert "second line" not in explorer.status.value
    explorer.controls["view"].value = "trained"  # still no exception
    explorer.controls["train"].click()
    assert "Could not update" in explorer.status.value
    monkeypatch.undo()
    explorer.controls["seed"].value = 5
    healthy(explorer)
    assert "ready" in explorer.status.value


def test_figure_savefig_draws_the_same_picture_as_the_widget(explorer):
    explorer.controls["members"].value = 3
    explorer.train()
    buffer = io.BytesIO()
    explorer.figure.savefig(buffer, format="png", dpi=explorer._figure.dpi)
    assert changed(explorer.png, buffer.getvalue()) < 0.005


def test_model_is_the_bel_batchensemble_shown(explorer):
    explorer.controls["members"].value = 3
    model = explorer.model()
    assert model.layers[0].num_members == 3
    shown = np.stack([image.get_array() for image in explorer._figure.weight_images[:3]])
    np.testing.assert_allclose(model.layers[2].effective_weights(), shown, atol=1e-6)
    with pytest.raises(ValueError, match="no trained state"):
        explorer.model("trained")
    with pytest.raises(ValueError, match="view must be 'init' or 'trained', got 'best'"):
        explorer.model("best")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"members": 0}, "members must be an int in \\[1, 8\\]"),
        ({"init": "zeros"}, "init must be one of"),
        ({"task": "mnist"}, "task must be one of"),
        ({"layer": 3}, "layer must be an int in \\[0, 3\\)"),
        ({"steps": 75}, "steps must be a multiple of 50"),
        ({"steps": 5000}, "steps must be a multiple of 50 in \\[50, 1000\\], got 5000"),
        ({"layer": True}, "layer must be an int"),
    ],
)
def test_bad_arguments_are_rejected(options, match):
    with pytest.raises(ValueError, match=match):
        DiversityExplorer(**options)


def _warm_up_jobs_that(monkeypatch, change) -> None:
    """Replace each warm-up job ``job`` of task ``name`` by ``change(name, job_name, job)``."""
    jobs = model.warm_up_jobs

    def changed_jobs(task):
        return {name: change(task.name, name, job) for name, job in jobs(task).items()}

    monkeypatch.setattr(model, "warm_up_jobs", changed_jobs)


def _gap_waits_for(release: threading.Event):
    def change(task, name, job):
        if task != "gap":
            return job
        return lambda: release.wait(60) and job()  # a compilation that takes long

    return change


def test_a_task_switch_while_that_task_compiles_returns_at_once_and_draws_it_when_ready(
    monkeypatch,
):
    release = threading.Event()
    _warm_up_jobs_that(monkeypatch, _gap_waits_for(release))
    explorer = DiversityExplorer(members=3)
    before = explorer.png
    start = time.perf_counter()
    explorer.controls["task"].value = "gap"
    assert time.perf_counter() - start < SWITCH_WAIT + 0.5  # the learner's panel is not blocked
    assert "Preparing the regression with a gap task" in explorer.status.value
    assert explorer.png == before and "Could not" not in explorer.status.value
    release.set()  # the background finishes the gap task and draws it
    assert explorer.wait_ready(timeout=300)
    healthy(explorer)
    assert "ready" in explorer.status.value and explorer.task.name == "gap"
    assert changed(before, explorer.png) > 0.02
    fresh = DiversityExplorer(task="gap", members=3)
    assert explorer.numbers == fresh.numbers and changed(explorer.png, fresh.png) == 0.0


def test_code_that_reads_right_after_a_task_switch_reads_the_new_task(monkeypatch):
    release = threading.Event()
    _warm_up_jobs_that(monkeypatch, _gap_waits_for(release))
    explorer = DiversityExplorer()
    explorer.controls["task"].value = "gap"
    threading.Timer(1.0, release.set).start()
    assert set(explorer.numbers["init"]) == {"spread_data", "spread_off_data", "cosine", "rmse"}
    assert explorer.report().startswith("regression with a gap")
    healthy(explorer)


def test_train_at_once_after_construction_waits_for_the_background_without_blocking_it(
    monkeypatch,
):
    # Train right after the panel appears waits for the training program from the background;
    # the background first finishes the other task and then takes the update lock to draw it if
    # asked to. Waiting while holding that lock would stall both until WAIT_LIMIT.
    monkeypatch.setattr(widget, "WAIT_LIMIT", 30.0)
    release = threading.Event()
    _warm_up_jobs_that(monkeypatch, _gap_waits_for(release))
    explorer = DiversityExplorer(members=2, steps=50)
    threading.Timer(1.0, release.set).start()
    start = time.perf_counter()
    explorer.controls["train"].click()
    assert time.perf_counter() - start < 25.0, "Train waited for the background's time-out"
    healthy(explorer)
    assert explorer.trained and explorer.wait_ready(timeout=300)


def test_a_failed_background_warm_up_is_a_message_and_everything_compiles_when_needed(
    monkeypatch,
):
    def change(task, name, job):
        if task == "moons" and name in model.FIRST_PICTURE:
            return job  # the first picture compiles in the foreground

        def broken():
            raise RuntimeError(f"simulated failure of {task}/{name}\nsecond line")

        return broken

    _warm_up_jobs_that(monkeypatch, change)
    explorer = DiversityExplorer(members=2)
    assert explorer.wait_ready(timeout=300)  # every wait ends, although nothing was compiled
    assert "in advance failed (RuntimeError: simulated failure" in explorer.status.value
    assert "second line" not in explorer.status.value and len(explorer.status.value) < 300
    c = explorer.controls
    c["steps"].value = 50
    c["train"].click()  # its program was never compiled in advance: compiled now
    healthy(explorer)
    assert explorer.trained
    c["task"].value = "gap"  # the gap task was never compiled in advance: it is now
    explorer.wait_ready(timeout=300)
    healthy(explorer)
    assert explorer.task.name == "gap" and "ready" in explorer.status.value
    c["init"].value = "random_sign"
    healthy(explorer)


def test_construction_reports_progress_and_nothing_compiles_afterwards():
    steps = []
    explorer = DiversityExplorer(progress=lambda done, total, text: steps.append((done, total)))
    assert steps[0][0] == 0 and steps[-1][0] == steps[-1][1] == len(model.FIRST_PICTURE)
    assert explorer.wait_ready(timeout=300), "the other task did not finish compiling"
    with compiled() as compiles:
        c = explorer.controls
        for task in ("gap", "moons"):
            c["task"].value = task
            for members in range(1, 9):
                c["members"].value = members
            for name, value in (("init", "random_sign"), ("use_base_weights", False),
                                ("seed", 5), ("init", "normal"), ("r_std", 1.1)):  # fmt: skip
                c[name].value = value
            c["steps"].value = 50
            explorer.train()
            healthy(explorer)
    assert compiles == [], f"{len(compiles)} compilations after the panel was built"


@pytest.mark.parametrize(
    ("name", "value", "message", "kept"),
    [
        ("members", 0, "members must be in [1, 8], got 0", 1),
        ("members", 9, "members must be in [1, 8], got 9", 8),
        ("r_std", -0.5, "r_std must be in [0.0, 1.5], got -0.5", 0.0),
        ("init", "zeros", "init must be one of ['normal', 'random_sign'], got 'zeros'", "normal"),
        ("task", "mnist", "task must be one of ['moons', 'gap'], got 'mnist'", "moons"),
    ],
)
def test_a_bad_value_from_code_is_a_short_message_and_the_panel_stays_usable(
    explorer, name, value, message, kept
):
    explorer.controls[name].value = value  # no exception
    assert message in explorer.status.value and "Traceback" not in explorer.status.value
    assert len(explorer.status.value) < 300
    assert explorer.controls[name].value == kept
    explorer.controls["seed"].value = 2
    healthy(explorer)
    assert "ready" in explorer.status.value


def test_changing_the_member_count_after_training_drops_the_training(explorer):
    explorer.controls["steps"].value = 50
    explorer.train()
    explorer.controls["view"].value = "init"
    assert explorer.trained
    explorer.controls["members"].value = 2
    assert not explorer.trained and explorer.numbers["trained"] is None


def test_the_models_shown_are_bel_models(explorer):
    c = explorer.controls
    c["members"].value, c["init"].value, c["steps"].value = 3, "random_sign", 50
    s = explorer.settings
    base = bel.mlp(2, 2, hidden=model.HIDDEN, rngs=2 * s.seed)
    expected = bel.batchensemble(base, 3, rngs=2 * s.seed + 1, init="random_sign")
    got = explorer.model()
    np.testing.assert_array_equal(got.layers[2].r[...], expected.layers[2].r[...])
    np.testing.assert_array_equal(got.layers[0].kernel[...], expected.layers[0].kernel[...])
    explorer.train()
    trained, _ = model.train(explorer.task, model.build(explorer.task, s), 3, 50)
    expected = model.first_members(explorer.task, s, trained, 3)
    np.testing.assert_allclose(explorer.model("trained").layers[1 * 2].s[...],
                               expected.layers[2].s[...], rtol=1e-6)  # fmt: skip
