"""Evaluation: the one evaluator, which steps a suite's batched task with a policy."""
