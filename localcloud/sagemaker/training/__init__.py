"""SageMaker training jobs: the API, the runner that executes the training script as a process under the script-mode
contract, and the staging of a job's files between S3 and the job's directory."""
