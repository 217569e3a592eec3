"""`mlbatch`: the command-line client of the batch endpoints API (reads Azure ML CLI v2 YAML)."""
