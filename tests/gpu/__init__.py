"""The CuPy backend: Philox stream, kernel source, and (on a GPU) the kernels."""
