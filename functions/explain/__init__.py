"""The explain function: ``app.py`` (the handler) and ``request.py`` (the explain request schema)."""
