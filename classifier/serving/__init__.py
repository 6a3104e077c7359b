"""Serving: the ONNX model, the inference handlers, the URL fetcher and the Lambda handler."""
