"""The watchlist: reading and checking watchlist.yaml, site profiles, and watched wording.

`load.load_config` turns the file into the runtime `Config` (see models.py):
`load` reads the YAML with its lines and bounds, `schema` holds the typed models
(and the JSON Schema editors use), `expand` applies defaults, profiles,
marketplaces and locales, `routes` expands the notify URLs from the environment.
"""
