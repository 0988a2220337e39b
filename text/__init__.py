"""What text describes a song, the offline sentence encoder, and the text FAISS index.

Never imports `radio` or `server`, never decodes audio.
"""

from text.documents import SongFields, descriptors, document, document_hash, matched_fields
from text.errors import EmptyPrompt, ModelMissing, TextError

__all__ = [
    "EmptyPrompt",
    "ModelMissing",
    "SongFields",
    "TextError",
    "descriptors",
    "document",
    "document_hash",
    "matched_fields",
]
