"""Helpers for ``bench/run_bench.py``: supervisors, process scanning, scenarios, report."""
