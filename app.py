"""Entry point: `flask --app app run`, `gunicorn app:app`."""

import gc

from portal import create_app

app = create_app()
# What loading made stays for the life of the process: out of the collector's sight, so that workers forked from
# a preloaded master (`gunicorn --preload`) keep sharing its pages instead of copying them when a collection runs.
gc.freeze()
