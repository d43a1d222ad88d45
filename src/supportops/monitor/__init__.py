"""Monitoring and the feedback loop: agents' verdicts on predictions, reference statistics
kept with each model version, drift and estimated accuracy, champion/challenger comparison.

Imports events, privacy, governance, datasets, ml and triage; only the ``Tenant``, the CLI,
the API and the console import this room.
"""
