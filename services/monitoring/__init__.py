"""Monitoring: what a serving endpoint is sent and answers (its data capture), summarised once per capture file;
drift of its answers from the training set's classes, published to CloudWatch with an alarm; human review of
captured photos as a Ground Truth-style manifest; and the way back to a dataset for retraining."""
