"""The HTTP side. Path convertors are registered here, before any route module compiles its paths."""

from server.entrypoints.http.convertors import register as _register_convertors

_register_convertors()
