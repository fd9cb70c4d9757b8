"""The HTTP API: one module per group of routes, all reaching the node through ``keys.NODE``."""
