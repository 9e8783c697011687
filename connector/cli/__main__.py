"""`python -m connector.cli …` (what `connector run` starts its own children with)."""
from connector.cli import main

main()
