"""One module per job kind, each with one handler; all are registered in jobs/runtime.py."""
