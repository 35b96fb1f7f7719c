"""The test run's warning filters: a deprecation fails the test that triggers it."""

import warnings

import pytest


@pytest.mark.parametrize("category", [DeprecationWarning, PendingDeprecationWarning, FutureWarning])
def test_a_deprecation_raised_in_a_test_fails_it(category: type[Warning]) -> None:
    with pytest.raises(category):
        warnings.warn("this API is going away", category, stacklevel=1)


def test_the_named_third_party_warnings_are_the_only_ones_let_through() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.warn_explicit("Using `httpx` with `starlette.testclient` is deprecated", DeprecationWarning, "x", 1)
    assert len(caught) == 0
