"""The ``pointillist`` command line."""
