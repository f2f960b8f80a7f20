from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from cors_harness.runner import Harness

pytest_plugins = ["pytester"]

TESTS = Path(__file__).parent
ROOT = TESTS.parent


@pytest.fixture(scope="session")
def harness(cors_harness: Harness) -> Harness:
    """All three real browsers, launched once per test process (once per xdist worker).

    The plugin's `cors_harness` owns them. A browser that cannot be launched fails the tests
    that need it; it never skips them.
    """
    if cors_harness.browsers.failures:
        reasons = "; ".join(f"{b}: {why}" for b, why in cors_harness.browsers.failures.items())
        pytest.fail(
            f"browsers required but not usable ({reasons}); run scripts/setup, "
            "then `cors-harness doctor`",
            pytrace=False,
        )
    return cors_harness
