"""Metrics and their statistics."""
