"""A run after (or while) it trains: its folder, its config.yaml and checkpoints, loaded again.

Used by the command line (which run a command writes into or continues), the tools (a trained
model back from its checkpoint) and the SLURM script alike; built on the core, nothing above it.
"""
