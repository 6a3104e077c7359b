"""The Predict page's parts."""
