#!/usr/bin/env python3
"""Writes tests/golden/scalesim-3.0-fold-cycles.csv: compute cycles that SCALE-Sim 3.0's own
systolic compute units (os, ws, is) count for a grid of GEMMs, so roofsim's array model is
checked against the reference implementation, not against our reading of its paper.

    python3 -m venv /tmp/scalesim && /tmp/scalesim/bin/pip install scalesim==3.0.0
    /tmp/scalesim/bin/python tools/scalesim-fold-cycles.py > tests/golden/scalesim-3.0-fold-cycles.csv

A GEMM is M x K times K x N; cycles are the rows of SCALE-Sim's demand matrices, i.e. its
compute cycles with no memory stalls.
"""
import contextlib
import io
import itertools

import numpy as np
from scalesim.compute.systolic_compute_is import systolic_compute_is
from scalesim.compute.systolic_compute_os import systolic_compute_os
from scalesim.compute.systolic_compute_ws import systolic_compute_ws
from scalesim.scale_config import scale_config

UNITS = {"os": systolic_compute_os, "ws": systolic_compute_ws, "is": systolic_compute_is}


def cycles(dataflow, rows, cols, m, n, k):
    config = scale_config()
    config.array_rows, config.array_cols = rows, cols
    config.force_valid()
    ifmap = np.arange(m * k).reshape(m, k)
    weights = np.arange(k * n).reshape(k, n) + m * k
    ofmap = np.arange(m * n).reshape(m, n) + m * k + k * n
    unit = UNITS[dataflow]()
    unit.set_params(config_obj=config, ifmap_op_mat=ifmap, ofmap_op_mat=ofmap, filter_op_mat=weights)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        unit.create_demand_matrices()
    return unit.ifmap_demand_matrix.shape[0]


print("dataflow,rows,cols,m,n,k,cycles")
arrays = [(4, 4), (8, 4), (3, 5), (16, 16), (8, 32)]
shapes = [(10, 7, 5), (16, 8, 4), (5, 13, 9), (1, 9, 17), (64, 64, 64), (33, 70, 21)]
for dataflow, (rows, cols), (m, n, k) in itertools.product(UNITS, arrays, shapes):
    print(f"{dataflow},{rows},{cols},{m},{n},{k},{cycles(dataflow, rows, cols, m, n, k)}")
