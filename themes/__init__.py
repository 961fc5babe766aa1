"""The themes shipped with piasite, installed as the package piasite.themes (see pyproject.toml).

themes/default/ holds the default theme's Jinja2 templates and static assets; a site's own
themes/<name>/ replaces single files of it (docs/themes.md).
"""
