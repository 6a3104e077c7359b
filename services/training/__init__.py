"""Training: SageMaker training jobs, plain EC2 training machines, their curves, and debugging and profiling."""
