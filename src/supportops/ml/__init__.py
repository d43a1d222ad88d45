"""Learned pieces of supportops: offline sentence embeddings and scikit-learn-style estimators.

Knows nothing of storage, events or HTTP; callers pass arrays and texts in, get arrays out.
"""
