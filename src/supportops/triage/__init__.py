"""Triage: calibrated predictions that abstain when unsure or when the input is out of scope."""
