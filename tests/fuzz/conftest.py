"""The fuzz layer: generated input, from Hypothesis, against the domain's rules and the whole
API. Hypothesis runs derandomized unless told otherwise."""

import os

from hypothesis import HealthCheck, settings

# CI: the same examples on every run, so a failure reproduces. By hand, for a longer hunt:
#   HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/fuzz
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "long",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
