"""`litelens bench`: predict and explain measured beside their baselines, and the build of a large CSV (``cli``
dispatches)."""
