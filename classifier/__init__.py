"""The dog-breed classifier workload shipped to AWS: labels and preprocessing, serving (model and handlers),
training (the script-mode entry point), its recording and rules, and packaging.

Imports nothing from the dashboard, so it can be copied into a model.tar.gz or a Lambda zip as is.
"""
