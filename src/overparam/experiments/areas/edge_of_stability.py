"""Registry entries of the edge_of_stability area (see the package docstring)."""
