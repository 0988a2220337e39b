"""What text describes a song, the offline sentence encoder, and the text FAISS index.

Never imports `radio` or `server`, never decodes audio.
"""

__all__: list[str] = []
