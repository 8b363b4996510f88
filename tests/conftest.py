"""Shared test configuration: hypothesis profiles and the session's JAX compilation cache.

Hypothesis: ``default`` turns deadlines off (the first example of every new shape pays for XLA
compilation, which has nothing to do with the code under test) and keeps the example count small
enough for a 2-core machine. ``thorough`` runs ten times as many examples, for occasional deeper
runs: ``HYPOTHESIS_PROFILE=thorough pytest`` (or ``make test-thorough``). Tests that need fewer
examples than the profile's (each example compiles) ask for a fraction of it,
``settings(max_examples=settings.default.max_examples // 4)``, so every ``@given`` test runs more
examples under ``thorough``.

JAX: one compilation cache folder for the session (``BEL_TEST_JAX_CACHE``), shared by every
server and notebook kernel the tests start (tests/support.py), removed at the end.
"""

import os
import shutil
import tempfile

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=24,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=240)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

_JAX_CACHE = tempfile.mkdtemp(prefix="bel-test-jax-cache-")
os.environ["BEL_TEST_JAX_CACHE"] = _JAX_CACHE


def pytest_unconfigure(config):
    shutil.rmtree(_JAX_CACHE, ignore_errors=True)
