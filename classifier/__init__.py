"""The dog-breed classifier workload shipped to AWS: preprocessing, model, handlers, packaging.

Imports nothing from the dashboard, so it can be copied into a model.tar.gz or a Lambda zip as is.
"""
