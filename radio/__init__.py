"""radio-jockey's `radio` package: ingestion, analysis, the store, stations, rendering, the CLI.

Importing `radio` is cheap on purpose (no numpy, no librosa): the CLI's `--help` and the server's
start-up must not pay for the analysis stack. Import the submodules you need:
`radio.store.Store`, `radio.ingest.ingest`, `radio.analysis.analyse`, `radio.config.Settings`.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
