"""Development tools shipped beside the pipeline: the fake Messages API (`mksap fake-api`, tests, benchmarks)."""
