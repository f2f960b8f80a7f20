"""The public API: what `cors_harness.__all__` promises is there, and nothing public is missing."""

from __future__ import annotations

import cors_harness


def test_all_names_are_importable() -> None:
    for name in cors_harness.__all__:
        assert getattr(cors_harness, name) is not None, name


def test_all_is_sorted_and_lists_every_public_name() -> None:
    assert cors_harness.__all__ == sorted(cors_harness.__all__)
    public = {
        name
        for name, value in vars(cors_harness).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("cors_harness")
    }
    assert public == set(cors_harness.__all__)
