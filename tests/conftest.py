from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.runner import Harness
from harness.scenario import BROWSERS

if TYPE_CHECKING:
    from collections.abc import Iterator

pytest_plugins = ["pytester"]

TESTS = Path(__file__).parent
ROOT = TESTS.parent


@pytest.fixture(scope="session")
def harness() -> Iterator[Harness]:
    """All three real browsers, launched once per test process (once per xdist worker).

    A browser that cannot be launched fails the tests that need it; it never skips them.
    """
    with Harness(BROWSERS) as launched:
        if launched.browsers.failures:
            reasons = "; ".join(f"{b}: {why}" for b, why in launched.browsers.failures.items())
            pytest.fail(
                f"browsers required but not usable ({reasons}); run scripts/setup, "
                "then `cors-harness doctor`",
                pytrace=False,
            )
        yield launched
