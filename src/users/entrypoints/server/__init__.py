"""The server around the HTTP API: request ids and the access log, admission and deadlines, the
body limit, the drain on shutdown, metrics, logging, and uvicorn running it all."""
