"""`python -m labapp.cli`: the same as the `labapp` command (the tests and benches start it so)."""
import sys

from . import main

sys.exit(main())
