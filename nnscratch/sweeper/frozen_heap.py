"""Importing this module freezes the garbage collector's view of everything imported so far.

The joblib forkserver imports it last (:mod:`.worker_imports`): the preloaded modules' objects move to
the collector's permanent generation, so the full collection loky runs in a worker after every job, and
the ones training triggers, walk only what the job itself made, not the millions of objects MLflow,
pandas and SQLAlchemy bring (0.2 s per job measured). It also keeps those pages shared with the
forkserver (copy-on-write), as :func:`gc.freeze` intends.
"""
import gc

gc.freeze()
