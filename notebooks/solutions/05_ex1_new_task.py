# ruff: noqa: F821  (a solution runs inside notebooks/05_lifelong_learning, which defines the names)
# Exercise 1: the same four steps as for every other task, on the copy; W stays frozen.
sixth = bel.data.digit_tasks([(3, 5)], seed=0)[0]
extended = nnx.clone(model)  # a fresh copy of the 2-member model at every run
lifelong.add_member(extended, nnx.Rngs(7), init="random_sign")
new_member = lifelong.member(extended, 2)
bel.fit(new_member, *sixth.train, **budget)
lifelong.set_member(extended, 2, new_member)
# Earlier tasks cannot change: their members' rows and W were not written.
