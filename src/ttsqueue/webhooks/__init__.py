"""Webhooks: endpoints users register, and delivery of signed job events to them."""
