"""Deployment: ONNX export, precisions, verification (optional extra ``deploy``)."""
