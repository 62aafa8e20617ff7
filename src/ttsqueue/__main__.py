import sys

from ttsqueue.cli import main

sys.exit(main())
