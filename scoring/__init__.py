"""Model loading and scoring of mini-batches; plain Python with no Azure Functions imports."""
