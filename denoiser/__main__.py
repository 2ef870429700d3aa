"""Allows `python -m denoiser`."""

import sys

from denoiser.cli import main

sys.exit(main())
