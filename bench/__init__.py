"""ovoz benchmarks: each entry beside a bare baseline measured in the same run.

Run ``python -m bench`` from the repository root; see ``bench/README.md``.
"""
