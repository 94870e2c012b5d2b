"""`python -m bntui.training JOB_JSON` starts a training worker (`bntui.training.worker`).

Python's cyclic garbage collector is paused from here until the worker's model is built
(`bntui.training.common.resume_collection`): importing JAX and Keras allocates hundreds of
thousands of objects and leaves little garbage, and the collections they set off took about
0.2 s of every worker's start, the run's critical path.
"""

import gc

gc.disable()

from bntui.training.worker import run_as_process  # noqa: E402  (after the pause)

run_as_process()
