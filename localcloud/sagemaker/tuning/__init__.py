"""SageMaker hyperparameter tuning jobs: the API, the definition's checks, the search strategies and the scheduler that
launches trials."""
