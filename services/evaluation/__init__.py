"""Evaluation: how good a model is on a labelled set, breed by breed, measured with a SageMaker batch transform
of every photo, and whether one model really beats another. No streamlit here; the Evaluate page draws these."""
