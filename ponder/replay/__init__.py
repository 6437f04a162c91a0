"""Recorded runs put to work: re-run one against its recording (`rerun`), what a re-run is served
instead of live calls (`serving`), the comparison of a re-run with its recording (`compare`), fork
a run at a call with an edit (`fork`), align two runs (`diff`), treat a store as a cassette
(`cassette`), and the pytest plugin of replay tests (`pytest_plugin`).

Nothing is imported here: the pytest plugin (loaded into every pytest session of anyone who
installed ponder) and the CLI load only the module they use.
"""
