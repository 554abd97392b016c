"""durable-sessions clients for Python agent frameworks (see clients/python/README.md)."""
