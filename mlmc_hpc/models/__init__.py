"""Option models: payoffs and closed forms, the GBM grid and Milstein step, random streams
(SFC64 keying, the Philox twin), the NumPy and CuPy level samplers, the CUDA sources and
the registry that maps a config to its sampler and level cost."""
