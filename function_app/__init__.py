"""HTTP and event adapters of the batch endpoints app: they translate triggers into calls to the core."""
