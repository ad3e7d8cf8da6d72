"""HTTP only: routers per context, request/response schemas, dependencies, error rendering."""
