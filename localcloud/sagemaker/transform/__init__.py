"""SageMaker batch transform jobs: the API, the runner that sends every input object through real instances of the
model's own serving code, and what happens to records on the way (splitting, DataProcessing, assembly)."""
