"""Load-test simulator, benchmarks and soak."""
