"""circlearn benchmarks: speed, memory and throughput, measured side by side (see common.py)."""
