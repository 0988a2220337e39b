"""Tests of the HTTP service (server/) and its live engine (radio/live.py and radio/live_*.py)."""
