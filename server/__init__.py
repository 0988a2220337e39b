"""The FastAPI service: routes and streaming; the business logic lives in `radio`."""

__all__: list[str] = []
