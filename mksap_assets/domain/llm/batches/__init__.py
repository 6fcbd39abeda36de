"""Batch mode (MKSAP_LLM_MODE=batch, docs/BATCHES.md): a backfill's first-pass requests go through the provider's
message batches, at half price, before the partition runs, which then find the answers in the response cache.

- state.py: the batches submitted, persisted under DAGSTER_HOME, so that a restart never submits twice;
- coordinator.py: one step of the cycle (reconcile, poll, collect into the cache, submit), called by the sensor and
  the CLI; it never waits for a batch;
- usage.py: what a batch answer cost, carried in its cache entry until the question that uses it pays for it.

The provider's API is behind `BatchAPI` (api.py); Anthropic's is providers/anthropic/batches.py.
"""
