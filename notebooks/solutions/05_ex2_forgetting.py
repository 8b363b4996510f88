# ruff: noqa: F821  (a solution runs inside notebooks/05_lifelong_learning, which defines the names)
# Exercise 2: average drop from "right after learning task j" to "at the end", over j < T-1.
def forgetting(acc):
    acc = np.asarray(acc)
    T = acc.shape[1]
    return float(np.mean([acc[j, j] - acc[T - 1, j] for j in range(T - 1)]))
