"""Reports from the journal: intervals, agents, the benchmark table, staffing from history."""
