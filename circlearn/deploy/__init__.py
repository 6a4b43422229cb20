"""Deployment: everything that writes a deployable file, each file verified against the model.

Modules: ``graph`` (:class:`~circlearn.deploy.graph.DeployGraph`, the model's forward over
every real frame), ``torchscript`` (a traced file that reproduces the model's own evaluation),
``onnx`` (ONNX in fp32/fp16/int8, checked with ONNX Runtime; the optional ``deploy`` extra),
``export`` (a run directory's model → a verified file) and ``cli`` (``circlearn export``).
"""
