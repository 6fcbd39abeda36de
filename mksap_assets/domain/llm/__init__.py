"""Talking to a model: the provider seam (provider.py), the providers (providers/), a persistent response cache,
usage and cost."""
