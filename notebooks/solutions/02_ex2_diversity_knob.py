# Solution to exercise 2 of 02_batchensemble_vs_naive: fast weights with twice the default spread.
# ruff: noqa: F821 (make_models, bel, compare, E, the data and the constants come from the notebook)
r_std = s_std = 1.0
knob = make_models(2, 2, r_std=r_std, s_std=s_std)["BatchEnsemble"][0]
bel.fit(knob, x_train, y_train, num_members=E, steps=STEPS, learning_rate=LEARNING_RATE)
knob_quality = compare.classification_summary(bel.predict(knob, x_test, num_members=E), y_test)

# What to expect: the members' effective weights point in clearly different directions now (the
# mean pairwise cosine drops a lot from the default's), because W ∘ (r_i s_iᵀ) rescales every row
# and column of W by factors that differ more between members. Whether the NLL then gets closer to
# the naive ensemble's is an empirical question: read it off the check cell, and try another seed
# in make_models before you believe it.
