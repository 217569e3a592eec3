"""`python -m mlbatch` runs the CLI."""
import sys

from .main import main

sys.exit(main())
