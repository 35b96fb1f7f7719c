import pytest

from tests.fixtures.parley import live_servers, parley, server, sqlite_parley  # noqa: F401
from tests.fixtures.services import postgres_available, postgres_databases, redis_available, redis_url  # noqa: F401
from tests.fixtures.tiers import mark


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with what it needs (postgres, redis, process), read from its code and fixtures:
    `make check` leaves those out (tests/fixtures/tiers.py)."""
    mark(items)
