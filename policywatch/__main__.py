"""`python -m policywatch` is the same command as `policywatch`."""

import sys

from policywatch.cli import main

sys.exit(main())
