import pytest

from tests.fixtures.parley import live_servers, parley, server, sqlite_parley  # noqa: F401
from tests.fixtures.services import postgres_available, postgres_databases, redis_available, redis_url  # noqa: F401


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"
