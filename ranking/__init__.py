"""The continuation model, its training and evaluation, the audio FAISS indexes and the sequencer.

Never imports `radio` or `server`.
"""

from ranking.errors import ClipError, ModelLoadError, PlanError, RankingError
from ranking.inference import ContinuationModel
from ranking.model import ModelConfig
from ranking.objective import Constraints, Solution, fitness
from ranking.sequencer import GAConfig, extend, sequence
from ranking.transitions import Candidate, SoftWeights, TransitionScores, score_tensor

__all__ = [
    "Candidate",
    "ClipError",
    "Constraints",
    "ContinuationModel",
    "GAConfig",
    "ModelConfig",
    "ModelLoadError",
    "PlanError",
    "RankingError",
    "SoftWeights",
    "Solution",
    "TransitionScores",
    "extend",
    "fitness",
    "score_tensor",
    "sequence",
]
