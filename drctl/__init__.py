"""drctl: the on-call engineer's command line for a deployed orchestrator (or the local cloud)."""
