"""The API's routers, one module per area (stations, tracks, admin)."""

__all__: list[str] = []
