"""The last stage: tables (summary.csv, table.md) and figures from the run's stored outputs."""
