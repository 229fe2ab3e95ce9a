"""Training: the data loader today (the trainer builds on it)."""
