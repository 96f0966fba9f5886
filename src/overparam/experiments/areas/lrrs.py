"""Registry entries of the lrrs area (see the package docstring)."""
