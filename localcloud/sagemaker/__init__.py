"""Amazon SageMaker: models, endpoint configs and endpoints (fleets of real inference processes), the runtime's
InvokeEndpoint, training and tuning."""
