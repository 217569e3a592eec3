"""The command groups of mlbatch, one module each, named like `az ml`'s."""
