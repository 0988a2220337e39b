"""Tests of the HTTP service (server/) and its live engine (radio/live.py)."""
