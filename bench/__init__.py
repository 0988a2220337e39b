"""Benchmark scripts, each run as `python bench/NAME.py` (see `make bench`).

A package so that tests can import a benchmark's evaluator (`bench.key_accuracy`) and mypy
checks the scripts under their `bench.` names. Nothing here runs on import.
"""
