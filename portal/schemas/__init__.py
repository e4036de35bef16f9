"""Pydantic schemas: request validation and the OpenAPI components, from one definition."""
