"""SageMaker training jobs: the API and the runner that executes the training script as a process under the script-mode
contract."""
