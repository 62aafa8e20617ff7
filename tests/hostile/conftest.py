"""Fixtures for the hostile-input tests: the in-process API, and hypothesis profiles.

``ci`` (the default) keeps the fuzz suite's example count bounded and its examples fixed
from run to run; ``fuzz`` (``make fuzz``) runs many more, freshly drawn each time.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.api.conftest import app, backend, client, queue, settings, storage

__all__ = ["app", "backend", "client", "queue", "settings", "storage"]

_COMMON = {
    "deadline": None,  # a loaded machine; a hang is caught by the request timeout instead
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
hypothesis_settings.register_profile(
    "ci", max_examples=40, derandomize=True, database=None, print_blob=True, **_COMMON
)
hypothesis_settings.register_profile("fuzz", max_examples=1500, print_blob=True, **_COMMON)
hypothesis_settings.load_profile(os.environ.get("TTSQUEUE_FUZZ_PROFILE", "ci"))
