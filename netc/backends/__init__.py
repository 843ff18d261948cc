"""Code generators over the IR (each imports its framework lazily, inside functions)."""
