"""The Predict page: where the model looked."""
