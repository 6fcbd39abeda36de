"""Extractors turn a RawQuestion into statements: the rule-based offline one (offline.py) and the LLM one
(llm_extractor.py) with its prompts and repair turn; registry.py names them for the settings."""
