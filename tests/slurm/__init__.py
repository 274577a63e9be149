"""Slurm job scripts: under shims, and under a real local Slurm cluster."""
