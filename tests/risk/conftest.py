"""Hypothesis settings for the risk tests.

Each property test states its own ``max_examples`` (they sum to more than 5,000 per
run, see test_properties.py) so the count does not depend on a profile being loaded.
The ``ci`` profile is registered for runs that want the same budget everywhere
(``--hypothesis-profile=ci``); it never disables deadlines silently elsewhere.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
