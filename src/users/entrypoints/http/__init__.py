"""The HTTP API: FastAPI routes over the use cases, and the app that serves them."""
