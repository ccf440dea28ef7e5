import sys

from .launch import main  # it checks the Python version before the rest is imported

sys.exit(main())
