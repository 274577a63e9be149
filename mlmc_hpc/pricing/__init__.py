"""Pricing runs: the driver, an executor and the result put together, and the public
Python API (``mlmc_hpc.price``)."""
