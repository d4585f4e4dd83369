"""The experiment runner: train loop, mesh and sharding, checkpoints, logging and the CLI."""
