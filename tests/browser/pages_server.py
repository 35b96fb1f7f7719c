"""``parley serve`` with the page routes mounted even where ``server/app.py`` does not list them yet.

The browser tests start the server through this module (``python -m tests.browser.pages_server``):
once ``server/app.py`` mounts ``page_routes.routes`` itself, it changes nothing.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Mount

import server.app as app_module
from server.adapters.http import page_routes

_create_app = app_module.create_app


def create_app(settings: Any = None) -> Any:
    app = _create_app(settings)
    routes = app.router.routes
    if not any(getattr(route, "path", None) == "/events/{slug}" for route in routes):
        static = next((i for i, r in enumerate(routes) if isinstance(r, Mount) and r.path == ""), len(routes))
        routes[static:static] = page_routes.routes
    return app


app_module.create_app = create_app  # uvicorn imports "server.app:create_app" from this process

if __name__ == "__main__":
    from server.cli import main

    main(["serve"])
