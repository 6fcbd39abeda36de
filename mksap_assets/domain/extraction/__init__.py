"""Extractors turn a RawQuestion into statements: an offline rule-based one and (later) Claude."""
