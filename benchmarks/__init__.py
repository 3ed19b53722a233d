"""Performance benchmarks for nnscratch: ``python -m benchmarks`` (see ``benchmarks/README.md``).

Every figure is measured in one run on this machine as it is configured, as the median of repeated
measurements, and targets are stated as ratios between figures of the same run (never against
numbers from another day or machine). PyTorch is an optional, benchmark-only comparison.
"""
