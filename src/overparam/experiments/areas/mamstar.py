"""Registry entries of the mamstar area (see the package docstring)."""
