"""The JSON Schema of the open data, installed as the package piasite.schema (see pyproject.toml)."""
