"""The house style: one Okabe-Ito colour per method, distinct except where documented."""

from __future__ import annotations

from collections import Counter

import bel.plots.style as style
from bel.plots import model_color


def test_every_method_colour_is_okabe_ito():
    assert set(style.MODEL_COLORS.values()) <= set(style.OKABE_ITO)


def test_methods_get_distinct_colours_except_the_naive_family():
    shared = {c: n for c, n in Counter(style.MODEL_COLORS.values()).items() if n > 1}
    assert shared == {style.MODEL_COLORS["naive"]: 2}
    assert style.MODEL_COLORS["separate networks"] == style.MODEL_COLORS["naive"]


def test_the_methods_the_notebooks_show_have_a_house_colour():
    for name in ["single", "BatchEnsemble", "BatchEnsemble (split)", "naive", "random signs",
                 "TabM-style", "random W", "fine-tuning", "separate networks"]:  # fmt: skip
        assert model_color(name, 99) == style.MODEL_COLORS[name]
