"""The pytest plugin (entry point ``pytest11``): target options for the suite. Grows with it."""
