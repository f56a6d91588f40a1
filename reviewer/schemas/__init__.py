"""XML schemas shipped with the package (read with importlib.resources)."""
