"""Registry entries of the quantize area (see the package docstring)."""
