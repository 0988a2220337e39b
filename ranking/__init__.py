"""The continuation model, its training and evaluation, the audio FAISS indexes and the sequencer.

Never imports `radio` or `server`.
"""

__all__: list[str] = []
