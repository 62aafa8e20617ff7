"""ttsqueue: books in, audiobooks out, through a production job queue."""

__version__ = "0.1.0"
