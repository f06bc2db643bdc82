"""The local twin (`litelens serve`): the deployed API and the Lambda Invoke API, in-process, no Docker."""
