"""Event engines: where events are stored and queries run.

``base`` says what an engine must do (and the optional capabilities it may offer),
``runner`` turns a query into rows once for every engine, ``registry`` picks the engine
for ``TALLYBOOK_EVENTS_URL`` by its scheme, and each engine has a folder of its own.
"""
