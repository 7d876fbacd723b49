"""The WSGI entry point gunicorn serves (`smfcast.api.wsgi:app`).

The app imports numpy, pandas, statsmodels and more: some 150,000 objects that live as long as
the worker. A full garbage collection walks them all (tens of milliseconds, measured), stalling
whichever request triggers it; `gc.freeze()` moves them out of the collector's sight once the
app is built, so collections see only what requests allocate.

Each worker runs its BLAS single-threaded (`smfcast.blas`): several workers with a BLAS thread
per core each would oversubscribe the cores. The errors gunicorn answers itself (a request line
over its limit: 414) are problem+json like the app's (`problems.answer_server_errors_as_problems`).
"""

import gc

from smfcast.blas import single_threaded

from . import create_app
from .problems import answer_server_errors_as_problems

single_threaded()
answer_server_errors_as_problems()
app = create_app()
gc.collect()
gc.freeze()
