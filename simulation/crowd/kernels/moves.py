"""The 16- and 8-neighbourhoods of the distance-field kernels (no numba here, so the reference can share it)."""

import numpy as np

# (di, dj, pass1_di, pass1_dj, pass2_di, pass2_dj): a move to (i + di, j + dj) needs both "passed"
# cells walkable; orthogonal moves repeat their own target. Diagonals pass the two orthogonal
# cells; a knight move (1, 2) passes (0, 1) and (1, 1), the cells its straight line crosses.
MOVES = np.array([
    [0, 1, 0, 1, 0, 1], [0, -1, 0, -1, 0, -1], [1, 0, 1, 0, 1, 0], [-1, 0, -1, 0, -1, 0],
    [1, 1, 0, 1, 1, 0], [1, -1, 0, -1, 1, 0], [-1, 1, 0, 1, -1, 0], [-1, -1, 0, -1, -1, 0],
    [1, 2, 0, 1, 1, 1], [1, -2, 0, -1, 1, -1], [-1, 2, 0, 1, -1, 1], [-1, -2, 0, -1, -1, -1],
    [2, 1, 1, 0, 1, 1], [2, -1, 1, 0, 1, -1], [-2, 1, -1, 0, -1, 1], [-2, -1, -1, 0, -1, -1],
], dtype=np.int64)
#: The 8-neighbourhood: the first eight moves (orthogonal and diagonal, no corner cutting).
MOVES8 = np.ascontiguousarray(MOVES[:8])
