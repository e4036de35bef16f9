"""Everything that leaves the process: thin, typed wrappers with explicit timeouts."""
