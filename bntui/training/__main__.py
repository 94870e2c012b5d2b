"""`python -m bntui.training JOB_JSON` starts a training worker (`bntui.training.worker`).

Python's cyclic garbage collector is paused from here until the worker's model is built
(`bntui.training.common.resume_collection`): importing JAX and Keras allocates hundreds of
thousands of objects and leaves little garbage, and the collections they set off took about
0.2 s of every worker's start, the run's critical path. The imports a worker skips or defers
(`bntui.training.common.skip_unused_imports`) are set up before any other, and the worker
lowers its priority before either.
"""

import gc
import os

gc.disable()
# The workers fill every core; a lower priority from their first instruction keeps
# bntui's own process (parsing its command line, drawing the dashboard) prompt at almost
# no cost to training.
try:
    os.nice(5)
except OSError:
    pass

from bntui.training.common import skip_unused_imports  # noqa: E402  (after the pause)

# Before the worker's own modules: bntui.procs.system (the host CPU's facts) imports psutil.
skip_unused_imports()

from bntui.training.worker import run_as_process  # noqa: E402

run_as_process()
