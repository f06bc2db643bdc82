"""The explain function: ``app.py`` (the handler), ``explain_plane.py`` (the explain side of the data
plane: the predict steps, then the explanations), ``request.py`` (the explain request's parameters and
which rows are explained), ``budget.py`` (the time an explain request costs, against the budget and the
deadline) and ``openapi_explain.py`` (the OpenAPI schemas of the parameters and an explanation)."""
