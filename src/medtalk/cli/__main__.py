"""`python -m medtalk.cli`: the same commands as the `medtalk` script."""

from medtalk.cli import main

main()
