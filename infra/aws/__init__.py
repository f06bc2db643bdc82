"""What touches AWS or describes it: the SAM template reader, `litelens publish`, `litelens deploy`."""
