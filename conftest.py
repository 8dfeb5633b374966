"""Suite-wide set-up: torchao's native kernels are not needed; hypothesis profiles for dev, ci and nightly.

Rule: ``dev`` (the default without ``CI``) and ``ci`` are derandomized, so a test run gives the same result every
time; random exploration is the ``nightly`` profile's (``HYPOTHESIS_PROFILE=nightly``) and the fuzz campaign's.
"""

import os

os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

from hypothesis import HealthCheck, settings  # noqa: E402

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=20, derandomize=True, **_common)
settings.register_profile("ci", max_examples=40, derandomize=True, print_blob=True, **_common)
settings.register_profile("nightly", max_examples=1000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
