"""Business rules, one package per context. Never imports FastAPI or the API layer, never
commits: the request's unit of work does (``registry.api.dependencies``)."""
