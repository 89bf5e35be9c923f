import sys

from media.cli import main

sys.exit(main())
