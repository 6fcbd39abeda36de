"""Talking to Claude: a rate limiter inside the SDK's retry loop, a persistent response cache, usage and cost."""
