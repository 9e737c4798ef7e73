"""Models: the ModelRuntime seam, the loaders that produce one, and the built-in models."""
