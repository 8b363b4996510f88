"""The explorer's panel: ipywidgets controls in, the picture of :mod:`bel.explorer.figure` out.

Every control can also be set from code (``explorer.controls["r_std"].value = 0.0``): observers
run synchronously, so the picture and :attr:`DiversityExplorer.numbers` are up to date when the
assignment returns. Updates are serialised with a lock, because ipykernel 7 may handle widget
messages on a second thread while another update still runs; a change that a newer one has
overtaken is not drawn at all, and the newest always is. An error never escapes into a traceback:
the panel shows a short message and stays usable.

The one exception to "up to date when the assignment returns": a task switch while that task is
still compiling in the background waits at most ``SWITCH_WAIT`` seconds, then shows a message and
returns; the background draws the new task as soon as it can. :attr:`DiversityExplorer.numbers`,
:meth:`~DiversityExplorer.report`, :meth:`~DiversityExplorer.train`,
:meth:`~DiversityExplorer.model` and :meth:`~DiversityExplorer.wait_ready` first finish such a
switch, so code always reads the state the controls show. No wait lasts longer than
``WAIT_LIMIT`` seconds: after that (or when the background compilation failed) the caller compiles
what it needs itself.
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets

from bel.explorer import model
from bel.explorer.figure import WIDTH, ExplorerFigure
from bel.explorer.model import (
    CHUNK,
    FIRST_PICTURE,
    LAYERS,
    MAX_MEMBERS,
    TASKS,
    Evaluation,
    Settings,
    Task,
)
from bel.plots import style

__all__ = ["DiversityExplorer", "CONTROLS", "SWITCH_WAIT", "WAIT_LIMIT"]

#: Seconds a task switch waits for its task's background compilation before it shows a message
#: and returns (the new task is drawn when it is ready).
SWITCH_WAIT = 0.5
#: Seconds any wait for the background lasts at most; then the caller compiles on its own.
WAIT_LIMIT = 120.0

#: The controls of the explorer, in display order (keys of :attr:`DiversityExplorer.controls`).
CONTROLS = (
    "task",
    "members",
    "init",
    "seed",
    "r_mean",
    "r_std",
    "s_mean",
    "s_std",
    "use_base_weights",
    "layer",
    "steps",
    "train",
    "view",
)
_SETTINGS = ("members", "init", "r_mean", "r_std", "s_mean", "s_std", "seed", "use_base_weights")
_VIEWS = (("at initialisation", "init"), ("after training", "trained"))
_TASKS = (("classification: two moons", "moons"), ("regression with a gap", "gap"))
_TASK_NAMES = {value: label for label, value in _TASKS}
_LABELS = {  # key of Evaluation.numbers -> label in report()
    "disagreement": "pairwise disagreement (share of the grid)",
    "mutual_information": "mutual information (nats, grid mean)",
    "cosine": "cosine similarity of W ∘ (r sᵀ), layer shown",
    "accuracy": "accuracy of the ensemble on the data",
    "spread_data": "spread on the data (std, y units)",
    "spread_off_data": "spread off the data (std, y units)",
    "rmse": "RMSE of the ensemble mean on the data",
}

Progress = Callable[[int, int, str], None]


Refused = Callable[[str, bool], None]
_CONTROL_WIDTH = "290px"
_DESCRIPTION = {"description_width": "72px"}


def _checked(kind: type[widgets.ValueWidget]) -> type[widgets.ValueWidget]:
    """``kind`` (an ipywidgets control class) whose value check never raises.

    A value set from code that the control cannot take is reported to ``refused(text, error)``
    instead of raising: a slider keeps its nearest allowed value (reported with ``error=False``,
    shown by the next redraw), a choice keeps its current one (``error=True``, shown at once).
    The check is traitlets' public ``@validate("value")``, wrapping the control's own.
    """

    class Checked(kind):
        def __init__(self, *, name: str, refused: Refused, **kwargs: Any):
            self._control_name, self._refused = name, refused
            super().__init__(**kwargs)

        @traitlets.validate("value")
        def _validate_value(self, proposal: dict[str, Any]) -> Any:
            value, name = proposal["value"], self._control_name
            low, high = getattr(self, "min", None), getattr(self, "max", None)
            if low is not None and isinstance(value, int | float) and not low <= value <= high:
                self._refused(f"{name} must be in [{low}, {high}], got {value!r}: "
                              "using the nearest", False)  # fmt: skip
            own = getattr(super(), "_validate_value", None)  # the control's own check
            try:
                return own(proposal) if own is not None else value
            except Exception as err:  # noqa: BLE001 - traitlets' TraitError, or a TypeError
                options = getattr(self, "options", ())
                allowed = [o[1] if isinstance(o, tuple) else o for o in options]
                self._refused(f"{name} must be one of {allowed}, got {value!r}: kept "
                              f"{self.value!r} ({type(err).__name__})", True)  # fmt: skip
                return self.value

    Checked.__name__ = Checked.__qualname__ = kind.__name__
    return Checked


_IntSlider, _FloatSlider = _checked(widgets.IntSlider), _checked(widgets.FloatSlider)
_Dropdown, _ToggleButtons = _checked(widgets.Dropdown), _checked(widgets.ToggleButtons)
_Checkbox = _checked(widgets.Checkbox)


def _slider(kind, name: str, value, refused: Refused, **options) -> widgets.Widget:
    return kind(
        name=name,
        refused=refused,
        value=value,
        description=name,
        continuous_update=True,
        style=_DESCRIPTION,
        layout=widgets.Layout(width=_CONTROL_WIDTH),
        **options,
    )


@contextmanager
def _notebook_progress() -> Iterator[Progress | None]:
    """A progress bar shown under the running cell while the explorer is built (in a kernel)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        yield None
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        yield None
        return
    bar = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="290px"))
    label = widgets.HTML()
    box = widgets.HBox([bar, label])
    handle = display(box, display_id=True)

    def progress(done: int, total: int, text: str) -> None:
        bar.max, bar.value = total, done
        label.value = f"<span style='padding-left:8px'>{text}</span>"

    try:
        yield progress
    finally:  # leave no trace: an empty output, not a view of a closed widget
        handle.update({"text/plain": ""}, raw=True)
        box.close()


class DiversityExplorer:
    """Drag sliders, watch BatchEnsemble members agree or diverge, at initialisation and after
    training.

    The network is ``bel.batchensemble(bel.mlp(in, out, hidden=(16, 16)), E, …)`` on a toy task
    (built by :func:`bel.explorer.model.build`, trained by :func:`bel.fit`). The picture shows
    each member's effective weight ``W ∘ (r_i s_iᵀ)`` of one layer, each member's predictions,
    the ensemble's mean and where the members disagree, and the diversity numbers at
    initialisation and after training. Building the panel compiles everything once (a few
    seconds, with a progress bar in a notebook); afterwards no control compiles anything.

    Display it in a notebook (``display(explorer)``, or :attr:`widget` alone). Every control in
    :attr:`controls` can also be set from code; :attr:`numbers` then holds the new numbers,
    :meth:`report` prints them and :attr:`png` is the new picture. :meth:`train` does what the
    Train button does; :meth:`model` returns the members shown as an ordinary bel model.

    >>> explorer = DiversityExplorer(members=3, init="normal", r_std=0.0, s_std=0.0)
    >>> explorer.numbers["init"]["disagreement"]         # three identical members
    0.0
    >>> explorer.controls["init"].value = "random_sign"
    >>> explorer.numbers["init"]["disagreement"] > 0
    True

    The arguments are the controls' starting values.

    Args:
      task: ``"moons"`` (2-D classification) or ``"gap"`` (1-D regression with a gap).
      members: ensemble size ``E``, 1 to 8.
      init, r_mean, r_std, s_mean, s_std, seed, use_base_weights: see
        :class:`bel.explorer.model.Settings` (and :class:`bel.BatchEnsembleLinear`).
      layer: which layer's effective weights to draw (index into ``bel.explorer.model.LAYERS``).
      steps: training steps for the Train button (a multiple of 50, at most 1000).
      progress: ``progress(done, total, text)`` during construction; by default a progress bar
        under the running notebook cell (nothing outside a kernel). Pass a function that does
        nothing to leave no output behind (a web app).

    Attributes:
      controls: dict of the ipywidgets controls, keyed as in :data:`CONTROLS` (``"train"`` is a
        ``Button``; ``"view"`` switches the picture between initialisation and training).
      figure: the matplotlib figure drawn into (``figure.savefig`` works as usual).
      widget: the whole panel, to display.
      image: the ``ipywidgets.Image`` showing the picture.
      png: the PNG bytes of that picture.
      status: the message line.
      progress: the training progress bar.
    """

    def __init__(
        self,
        *,
        task: str = "moons",
        members: int = 4,
        init: str = "normal",
        r_mean: float = 1.0,
        r_std: float = 0.5,
        s_mean: float = 1.0,
        s_std: float = 0.5,
        seed: int = 0,
        use_base_weights: bool = True,
        layer: int = 1,
        steps: int = 300,
        progress: Progress | None = None,
    ):
        settings = Settings(members, init, r_mean, r_std, s_mean, s_std, seed, use_base_weights)
        model.make_task(task)  # checks the name
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(LAYERS):
            raise ValueError(f"layer must be an int in [0, {len(LAYERS)}), got {layer!r}")
        if not isinstance(steps, int) or not CHUNK <= steps <= 1000 or steps % CHUNK:
            raise ValueError(f"steps must be a multiple of {CHUNK} in [{CHUNK}, 1000], "
                             f"got {steps!r}")  # fmt: skip
        self._make_controls(task, settings, layer, steps)
        # shown 1:1 (never scaled down), so that its text has the size the figure was made with
        self.image = widgets.Image(
            format="png",
            layout=widgets.Layout(width=f"{round(WIDTH * style.DPI)}px", flex="0 0 auto"),
        )
        self.status = widgets.HTML()
        self.progress = widgets.IntProgress(
            value=0, min=0, max=steps, description="training", layout=widgets.Layout(width="290px")
        )
        self.widget = self._layout()
        self.png = b""
        self._note: str | None = None  # a message from a value check, shown by the next redraw
        # Observers can run on several threads at once (ipykernel 7 may handle widget messages on
        # a subshell thread while another thread works): one update at a time, under _lock.
        self._lock = threading.RLock()
        self._flags = threading.Lock()  # guards _generation
        self._local = threading.local()  # per-thread "ignore my own control changes"
        self._generation = 0  # counts control changes; only the newest one needs drawing
        self._key: tuple[str, Settings] | None = None  # what _slots and _init were built for
        self._slots: Any = None  # the MAX_MEMBERS-slot network at initialisation
        self._init: Evaluation | None = None
        self._trained: Evaluation | None = None
        self._trained_model: Any = None
        self._trained_as: tuple[tuple[str, Settings] | None, int] | None = None
        self._trained_steps = 0
        self._pending: str | None = None  # a task switched to before it was ready
        self._recent: OrderedDict[tuple[str, Settings], tuple[Any, Evaluation]] = OrderedDict()
        if progress is not None:
            self._prepare(progress)
        else:
            with _notebook_progress() as shown:
                self._prepare(shown)
        for name, control in self.controls.items():
            if name == "train":
                control.on_click(lambda _button: self._guarded(self.train))
            else:
                control.observe(self._on_change, names="value")
        self._guarded(self._refresh)
        self._start_background()

    def _prepare(self, progress: Progress | None) -> None:
        """Compile what the shown task needs for its first picture, and draw the picture's static
        parts meanwhile.

        The compilations run two at a time, beside the drawing (XLA compiles outside Python's
        lock). The panel is usable as soon as the shown task can be built and evaluated; then
        :meth:`_start_background` compiles the rest.
        """
        first = self.controls["task"].value
        self._ready = {name: threading.Event() for name in TASKS}  # first picture compiled
        self._trainable = {name: threading.Event() for name in TASKS}  # everything compiled

        def draw_static_parts() -> None:
            self._figure = ExplorerFigure(style.DPI)
            self.figure = self._figure.fig
            self._figure.prepare(model.make_task(first))

        self._warm(first, FIRST_PICTURE, progress, meanwhile=draw_static_parts)
        self._ready[first].set()

    def _start_background(self) -> None:
        """Compile the rest on a background thread, once the first picture is shown: in this
        order, the other task's first picture (so that a task switch is quick), the shown task's
        random signs / fresh ``W`` and training program, and the other task's. A job that fails
        there is reported in the panel's message line and its event is set all the same: whoever
        waits for it then compiles what it needs itself. :meth:`wait_ready` waits for everything.
        """
        first = self.controls["task"].value
        other = next(name for name in TASKS if name != first)

        def rest() -> None:
            for name, names, done in (
                (other, FIRST_PICTURE, self._ready[other]),
                (first, self._LATER, self._trainable[first]),
                (other, self._LATER, self._trainable[other]),
            ):
                try:
                    self._warm(name, names, None)
                except Exception as err:  # noqa: BLE001 - e.g. no new threads at interpreter exit
                    self._failed(name, "/".join(names), err)
                finally:  # set even after a failure: nobody waits for ever
                    done.set()
                if done is self._ready[other]:
                    self._catch_up(other)

        # Not a daemon: the interpreter waits for it at exit (killing XLA mid-compile aborts).
        self._background = threading.Thread(target=rest, name="bel-explorer-warm-up")
        self._background.start()

    #: the warm-up jobs a task needs beyond its first picture
    _LATER = ("build_fresh", "train")

    def _warm(
        self,
        name: str,
        names: tuple[str, ...],
        progress: Progress | None,
        meanwhile: Callable[[], None] | None = None,
    ) -> None:
        """Run the warm-up jobs ``names`` of task ``name`` (two at a time), and ``meanwhile`` on
        this thread; a job that fails is reported as a short message (the program is then
        compiled when first needed)."""
        jobs = model.warm_up_jobs(model.make_task(name))
        done = 0

        def step(text: str) -> None:
            if progress is not None:
                progress(done, len(names), text)

        step("compiling the explorer's programs (once) …")
        with ThreadPoolExecutor(2) as pool:
            futures = {job: pool.submit(jobs[job]) for job in names}
            if meanwhile is not None:
                meanwhile()
            for job, future in futures.items():
                try:
                    future.result()
                except Exception as err:  # noqa: BLE001 - reported; compiled on demand later
                    self._failed(name, job, err)
                done += 1
                step(f"compiling the explorer's programs (once): {done} of {len(names)} …")

    def _failed(self, name: str, job: str, err: Exception) -> None:
        """A warm-up job failed: say so now, and with the next redraw (which may come just after);
        what it would have compiled is compiled when first needed."""
        text = str(err).splitlines()[0] if str(err) else ""
        self._note = (f"Compiling {name}/{job} in advance failed ({type(err).__name__}: "
                      f"{text[:120]}); it is compiled when needed.")  # fmt: skip
        self._say(self._note, error=True)

    def _catch_up(self, name: str) -> None:
        """After task ``name`` became ready: draw it if a task switch to it is still waiting."""
        with self._lock:  # the switch sets _pending under the lock: no change is missed
            if self._pending == name:
                self._guarded(self._refresh)

    def _settle(self) -> None:
        """Finish a task switch that is waiting for its task (compiling on demand if needed)."""
        pending = self._pending
        if pending is None:
            return
        self._ready[pending].wait(WAIT_LIMIT)
        with self._lock:
            if self._pending is not None:
                self._guarded(lambda: self._refresh(patience=WAIT_LIMIT))

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until every task's programs are compiled (or their compilation failed) and the
        picture shows the controls' state; True when that is so within ``timeout`` seconds."""
        self._background.join(timeout)
        if self._background.is_alive():
            return False
        self._settle()
        return True

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """``display(explorer)``: the live panel, with the current picture as a static fallback.

        JupyterLab with a running kernel shows the panel; a viewer that cannot run widgets
        (GitHub, a notebook opened before its kernel runs) shows the PNG instead of the panel's
        text representation.
        """
        bundle = dict(self.widget._repr_mimebundle_(**kwargs))
        bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        bundle["text/plain"] = f"DiversityExplorer: {self._title(self.settings, False)}"
        return bundle

    def __repr__(self) -> str:
        return f"DiversityExplorer({self._title(self.settings, self._trained is not None)})"

    # ---------------------------------------------------------------------------------------------
    # controls and layout

    def _make_controls(self, task: str, s: Settings, layer: int, steps: int) -> None:
        refused = self._refused
        width = widgets.Layout(width=_CONTROL_WIDTH)
        c: dict[str, widgets.Widget] = {}
        c["task"] = _Dropdown(
            name="task", refused=refused, options=_TASKS, value=task, description="task",
            style=_DESCRIPTION, layout=width,
        )  # fmt: skip
        c["members"] = _slider(_IntSlider, "members", s.members, refused, min=1, max=MAX_MEMBERS)
        c["init"] = _ToggleButtons(
            name="init", refused=refused, options=["normal", "random_sign"], value=s.init,
            style={"button_width": "110px"},
            tooltips=["r ~ N(r_mean, r_std²), s ~ N(s_mean, s_std²)", "every entry ±1"],
        )  # fmt: skip
        c["seed"] = _slider(_IntSlider, "seed", s.seed, refused, min=0, max=99)
        c["seed"].continuous_update = False  # a seed is no continuous quantity: update on release
        for name, value in (("r_mean", s.r_mean), ("s_mean", s.s_mean)):
            c[name] = _slider(_FloatSlider, name, value, refused, min=-2.0, max=2.0, step=0.05)
        for name, value in (("r_std", s.r_std), ("s_std", s.s_std)):
            c[name] = _slider(_FloatSlider, name, value, refused, min=0.0, max=1.5, step=0.05)
        c["use_base_weights"] = _Checkbox(
            name="use_base_weights", refused=refused, value=s.use_base_weights,
            description="use_base_weights",
            tooltip="checked: the shared W is the base MLP's kernel; unchecked: a fresh W",
            indent=False, layout=width,
        )  # fmt: skip
        c["layer"] = _Dropdown(
            name="layer", refused=refused, options=[(name, i) for i, name in enumerate(LAYERS)],
            value=layer, description="heatmaps", style=_DESCRIPTION, layout=width,
        )  # fmt: skip
        c["steps"] = _slider(_IntSlider, "steps", steps, refused, min=CHUNK, max=1000, step=CHUNK)
        c["train"] = widgets.Button(
            description="▶ Train", button_style="primary",  # no icon: its font is on a CDN
            tooltip="train the members on the task (full batch, Adam)",
            layout=widgets.Layout(width="120px"),
        )  # fmt: skip
        c["view"] = _ToggleButtons(
            name="view", refused=refused, options=_VIEWS, value="init",
            style={"button_width": "120px"},
        )  # fmt: skip
        self.controls = {name: c[name] for name in CONTROLS}

    def _refused(self, text: str, error: bool) -> None:
        """A control refused a value set from code: say so now (``error``) or with the next
        redraw (a slider that kept its nearest value redraws at once)."""
        if error:
            self._say(text, error=True)
        else:
            self._note = text

    def _layout(self) -> widgets.Widget:
        """Three columns of controls side by side, stacked when the page is narrow (a phone):
        every row wraps instead of squeezing its controls; the picture keeps its size (its text
        stays legible) and scrolls sideways inside its own box when the page is narrower."""
        c = self.controls
        wrap = widgets.Layout(flex_flow="row wrap", align_items="flex-start", width="100%")

        def column(children: list[widgets.Widget]) -> widgets.VBox:
            return widgets.VBox(
                children, layout=widgets.Layout(flex="0 0 auto", margin="0 8px 0 0")
            )

        columns = widgets.HBox(
            [
                column([c["task"], c["members"], c["seed"], c["use_base_weights"]]),
                column([c["r_mean"], c["r_std"], c["s_mean"], c["s_std"]]),
                column([c["layer"], c["steps"], widgets.HBox([c["train"]]), self.progress]),
            ],
            layout=wrap,
        )

        def labelled(text: str, control: widgets.Widget) -> widgets.HBox:
            label = widgets.HTML(
                f"<div style='text-align:right; padding-right:8px'>{text}</div>",
                layout=widgets.Layout(width="80px"),
            )
            return widgets.HBox([label, control], layout=widgets.Layout(flex="0 0 auto"))

        toggles = widgets.HBox(
            [labelled("init", c["init"]), labelled("show", c["view"])], layout=wrap
        )
        picture = widgets.Box(
            [self.image], layout=widgets.Layout(overflow="auto hidden", max_width="100%")
        )
        return widgets.VBox(
            [columns, toggles, self.status, picture], layout=widgets.Layout(max_width="100%")
        )

    # ---------------------------------------------------------------------------------------------
    # state read from the controls

    @property
    def task(self) -> Task:
        """The current :class:`bel.explorer.model.Task`."""
        return model.make_task(self.controls["task"].value)

    @property
    def settings(self) -> Settings:
        """The current :class:`bel.explorer.model.Settings`, read from the controls."""
        return Settings(**{name: self.controls[name].value for name in _SETTINGS})

    @property
    def numbers(self) -> dict[str, dict[str, float] | None]:
        """``{"init": {...}, "trained": {...} or None}``: the numbers shown (see
        :meth:`bel.explorer.model.Evaluation.numbers`; ``cosine`` is for the layer shown)."""
        self._settle()
        layer, members = self.controls["layer"].value, self.controls["members"].value
        with self._lock:
            init, trained = self._init, self._trained
        return {
            "init": None if init is None else init.numbers(members, layer),
            "trained": None if trained is None else trained.numbers(members, layer),
        }

    def report(self) -> str:
        """The numbers shown, as plain text (for printing from code).

        >>> print(DiversityExplorer(r_std=0.0, s_std=0.0).report())  # doctest: +ELLIPSIS
        two moons · E = 4 · r ~ N(1, 0²), s ~ N(1, 0²) · seed 0
                                                       at init   trained
        pairwise disagreement (share of the grid)        0.000         —
        ...
        """
        numbers, settings = self.numbers, self.settings
        title = self._title(settings, False).replace(" · at initialisation", "")
        name = "two moons" if self.task.classify else "regression with a gap"
        lines = [f"{name} · {title}", f"{'':47}{'at init':>9}{'trained':>10}"]
        trained = numbers["trained"]
        for key, value in numbers["init"].items():
            after = "—" if trained is None else f"{trained[key]:.3f}"
            lines.append(f"{_LABELS[key]:47}{value:9.3f}{after:>10}")
        return "\n".join(lines)

    @property
    def trained(self) -> bool:
        """Whether a trained state for the current settings exists."""
        return self._trained is not None

    def model(self, view: str = "init"):
        """The members shown, as an ordinary bel BatchEnsemble (``nnx`` model).

        ``view`` is ``"init"`` or ``"trained"`` (after :meth:`train`).
        """
        if view not in ("init", "trained"):
            raise ValueError(f"view must be 'init' or 'trained', got {view!r}")
        self._settle()
        with self._lock:
            slots = self._slots if view == "init" else self._trained_model
        if slots is None:
            raise ValueError("no trained state: call train() (or press Train) first")
        settings = self.settings
        return model.first_members(self.task, settings, slots, settings.members)

    # ---------------------------------------------------------------------------------------------
    # reacting to the controls

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Change controls from code without reacting to it (in this thread only)."""
        self._local.quiet = getattr(self._local, "quiet", 0) + 1
        try:
            yield
        finally:
            self._local.quiet -= 1

    def _guarded(self, action) -> None:
        """Run ``action``; on any error show a short message instead, keep the panel usable."""
        try:
            action()
        except Exception as err:  # noqa: BLE001 - the panel must survive anything
            text = str(err).splitlines()[0] if str(err) else ""
            self._say(f"Could not update: {type(err).__name__}: {text[:200]}", error=True)

    def _on_change(self, change: dict[str, Any]) -> None:
        if getattr(self._local, "quiet", 0):
            return
        if change["owner"] is self.controls["steps"]:
            self.progress.max = self.controls["steps"].value
            return
        with self._flags:
            self._generation += 1
            generation = self._generation
        with self._lock:
            # A newer change is already waiting for the lock: it will draw the final state, which
            # makes drawing this intermediate one pointless (a dragged slider's backlog shrinks).
            if generation == self._generation:
                self._guarded(self._refresh)

    def _refresh(self, patience: float = SWITCH_WAIT) -> None:
        """Bring the members, the picture and the numbers up to date with every control.

        A task whose first picture is still compiling in the background is waited for at most
        ``patience`` seconds; then a message says so and the background draws the task when it
        is ready (:meth:`_catch_up`). After ``WAIT_LIMIT`` the program is compiled here.
        """
        settings, task = self.settings, self.task
        key = (task.name, settings.replace(members=1))  # everything but the member count
        for name in ("r_mean", "r_std", "s_mean", "s_std"):
            self.controls[name].disabled = settings.init == "random_sign"
        if key != self._key:
            self._key = self._slots = self._init = None
            self._forget_training()
            ready = self._ready[task.name]
            if not ready.wait(patience) and patience < WAIT_LIMIT:
                self._pending = task.name
                self._say(f"Preparing the {_TASK_NAMES[task.name]} task (compiling once, a few "
                          "seconds): the picture follows.")  # fmt: skip
                return
            self._pending = None
            self._slots, self._init = self._built(key, task, settings)
            self._key = key
        elif self._trained_as is not None and self._trained_as != (key, settings.members):
            self._forget_training()  # trained for another member count
        self._redraw()

    def _built(self, key: tuple[str, Settings], task: Task, settings: Settings):
        """The slots and their evaluation for ``key`` (task and settings but the member count),
        built and evaluated, or taken from the last ``_KEEP`` built (a slider dragged back and
        forth meets the same settings again)."""
        if key in self._recent:
            self._recent.move_to_end(key)
            return self._recent[key]
        slots = model.build(task, settings)
        self._recent[key] = slots, model.evaluate(task, slots)
        if len(self._recent) > self._KEEP:
            self._recent.popitem(last=False)
        return self._recent[key]

    _KEEP = 32  # about 150 kB each

    def _forget_training(self) -> None:
        self._trained = self._trained_model = self._trained_as = None
        self.progress.value = 0
        self.progress.bar_style = ""
        with self._quiet():
            self.controls["view"].value = "init"

    def _say(self, text: str, error: bool = False) -> None:
        color = "#b30000" if error else "#444"
        self.status.value = f"<span style='color:{color}; font-size:90%'>{text}</span>"

    def _redraw(self) -> None:
        if self._init is None:
            self._say("Nothing to show: the last change failed; change a control to retry.", True)
            return
        task, settings = self.task, self.settings
        view = self.controls["view"].value
        message, error = "ready", False
        if self._note is not None:
            message, error, self._note = self._note, True, None
        elif view == "trained" and self._trained is None:
            message = "Not trained yet: press Train (showing the initialisation)."
        shown = self._trained if view == "trained" and self._trained is not None else self._init
        numbers = self.numbers
        if not all(np.isfinite(v) for v in numbers["init"].values()):
            message = "Some numbers are not finite (NaN or inf): try smaller means or stds."
            error = True
        self._figure.update(
            task,
            shown,
            settings.members,
            self.controls["layer"].value,
            (numbers["init"], numbers["trained"]),
            *self._title_parts(settings, shown is self._trained),
        )
        self.png = self._figure.render()
        self.image.value = self.png
        self._say(message, error)

    def _title(self, s: Settings, trained: bool) -> str:
        return " · ".join(self._title_pieces(s, trained))

    def _title_parts(self, s: Settings, trained: bool) -> tuple[str, str]:
        """The picture's title in two: member count, seed and state; the initialisation."""
        members, init, seed, state = self._title_pieces(s, trained)
        return f"{members} · {seed} · {state}", f"· {init}"

    def _title_pieces(self, s: Settings, trained: bool) -> tuple[str, str, str, str]:
        if s.init == "random_sign":
            init = "r, s random signs ±1"
        else:
            init = f"r ~ N({s.r_mean:g}, {s.r_std:g}²), s ~ N({s.s_mean:g}, {s.s_std:g}²)"
        state = f"after {self._trained_steps} training steps" if trained else "at initialisation"
        return f"E = {s.members}", init, f"seed {s.seed}", state

    # ---------------------------------------------------------------------------------------------
    # training

    def train(self) -> None:
        """Train the members for ``controls["steps"]`` steps from the initialisation shown, with
        progress in :attr:`progress`; then show the trained state (``view = "trained"``).

        It first waits (at most ``WAIT_LIMIT`` seconds, outside the update lock, which the
        background needs to draw a task it finished) for the task's programs being compiled in
        the background; after that, whatever is missing is compiled here."""
        name = self.controls["task"].value
        if not self._trainable[name].is_set():
            self._say("Compiling the training program (once, a few seconds) …")
            self._ready[name].wait(WAIT_LIMIT)
            self._trainable[name].wait(WAIT_LIMIT)
        with self._lock:
            self._refresh(patience=WAIT_LIMIT)
            self._train()

    def _train(self) -> None:
        if self._slots is None:
            raise ValueError("nothing to train: the last change failed; change a control first")
        task, settings = self.task, self.settings
        steps = self.controls["steps"].value
        button = self.controls["train"]
        button.disabled = True
        self.progress.max, self.progress.value, self.progress.bar_style = steps, 0, ""
        self._say(f"training {steps} steps …")

        def report(done: int, loss: float) -> None:
            self.progress.value = done
            self._say(f"training: {done}/{steps} steps, loss {loss:.4f}")

        try:  # compiles the training program if the background has not (yet)
            trained, losses = model.train(task, self._slots, settings.members, steps, report)
        finally:
            button.disabled = False
        self._trained_model = trained
        self._trained = model.evaluate(task, trained)
        self._trained_as = (self._key, settings.members)
        self._trained_steps = steps
        self.progress.bar_style = "success" if np.isfinite(losses[-1]) else "danger"
        with self._quiet():
            self.controls["view"].value = "trained"
        self._redraw()
        if not np.isfinite(losses[-1]):
            self._say(
                "Training diverged (the loss is not finite): try smaller means or stds.", True
            )
        else:
            self._say(f"trained {steps} steps: loss {losses[0]:.3f} → {losses[-1]:.4f}")
