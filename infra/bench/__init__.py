"""`litelens bench`: predict and explain measured beside their baselines (``cli`` dispatches)."""
