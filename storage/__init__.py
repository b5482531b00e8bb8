"""Storage: database engine and sessions, declarative base, migrations, content-addressed blobs.

Imports nothing else of ours (see the layer contracts in ``pyproject.toml``).
"""
