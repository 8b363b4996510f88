"""Shared test configuration: hypothesis profiles.

``default`` turns deadlines off (the first example of every new shape pays for XLA compilation,
which has nothing to do with the code under test) and keeps the example count small enough for a
2-core machine. ``thorough`` is for occasional deeper runs: ``HYPOTHESIS_PROFILE=thorough pytest``
(or ``pytest --hypothesis-profile=thorough``).
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", parent=settings.get_profile("default"), max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
