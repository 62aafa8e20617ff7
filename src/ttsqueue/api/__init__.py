"""The HTTP API: ``create_app`` in :mod:`ttsqueue.api.app`."""
