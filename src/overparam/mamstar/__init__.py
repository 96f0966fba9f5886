"""MAM*: one-pass sketching and sparse recovery of the top eigenvectors of huge matrices.

Boahen, Brugiapaglia, Chou, Iwen, Krahmer, "Fast One-Pass Sparse Approximation of the Top
Eigenvectors of Huge (Approximately) Low-Rank Matrices? Yes, MAM*!" (arXiv 2507.17036).

A symmetric N x N matrix A is compressed into ``B = (1/K) M A M^T`` (m x m) with the
implicit binary prime-residue matrix M (:class:`PrimeMatrix`), in one pass over A's
entries (a stream, shards on disk, a factored form, a dense or sparse matrix, an
operator); the top eigenvectors of B are then decoded into sparse vectors (median,
oracle-support or sublinear bit-test decoders). See ``docs/mamstar.md``.

>>> import overparam
>>> res = overparam.sparse_top_eigenvectors(source, rank=6, sparsity=20)  # doctest: +SKIP
"""
from .api import DECODERS, eigen_errors, make_matrix, recover, sketch, sparse_top_eigenvectors
from .decoders import (bittest_candidates, bittest_decode, canonical_sign, median_decode,
                       oracle_decode, refine, top_eigenpairs)
from .matrix import PrimeMatrix, bits_of, choose_primes, n_bits, primes_between
from .sketch import (SYMMETRY, Sketch, SketchBuilder, read_shard, sketch_factored,
                     sketch_matrix, sketch_operator, sketch_shards, sketch_stream)

__all__ = [
    "DECODERS", "PrimeMatrix", "SYMMETRY", "Sketch", "SketchBuilder", "bits_of",
    "bittest_candidates", "bittest_decode", "canonical_sign", "choose_primes",
    "eigen_errors", "make_matrix", "median_decode", "n_bits", "oracle_decode",
    "primes_between", "read_shard", "recover", "refine", "sketch", "sketch_factored",
    "sketch_matrix", "sketch_operator", "sketch_shards", "sketch_stream",
    "sparse_top_eigenvectors", "top_eigenpairs",
]
