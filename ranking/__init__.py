"""The continuation model, its training and evaluation, the audio FAISS indexes and the sequencer.

Never imports `radio` or `server`.
"""

from ranking.errors import ClipError, ModelLoadError, RankingError
from ranking.model import ContinuationModel, ModelConfig

__all__ = ["ClipError", "ContinuationModel", "ModelConfig", "ModelLoadError", "RankingError"]
