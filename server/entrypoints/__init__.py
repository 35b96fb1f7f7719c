"""The driving side: HTTP routes and the websocket endpoint, which call the services."""
