"""Audio: PCM to per-chapter files (encode) and chapter files to one book (assemble)."""
