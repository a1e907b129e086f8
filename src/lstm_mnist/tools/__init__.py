"""What a trained model shows and serves, built on the core and on runs.

Predictions, the test report and its figures, the running guess (``explain``), the demo page and
the ONNX export.
"""
