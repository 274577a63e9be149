"""CUDA sources of the CuPy sampler (package data, compiled by NVRTC at run time)."""
