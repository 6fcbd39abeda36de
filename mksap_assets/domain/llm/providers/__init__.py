"""Model providers, one package each; the registry that names them is extraction/registry.py."""
