"""The JSON Schema of the open data, installed as the package piasite.jsonschema (see pyproject.toml; piasite.schema is the TOML schema module)."""
