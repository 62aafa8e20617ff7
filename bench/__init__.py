"""Benchmarks: queue throughput and latency against peers, the TTS pipeline, the API."""
